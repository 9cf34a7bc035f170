/*
 * pcscf-dp DPDK binding: the headers bindgen reads, and the C shim's
 * prototypes.
 *
 * DPDK's fast path (rx/tx burst, mbuf alloc/free, prefetch, the per-lcore
 * id and errno) is written as static-inline functions and thread-local
 * macros that bindgen cannot bind. shim.c wraps each one in an exported
 * function named pcscf_<dpdk name>. Nothing here may hold state.
 */
#ifndef PCSCF_DPDK_SHIM_H
#define PCSCF_DPDK_SHIM_H

#include <rte_config.h>
#include <rte_version.h>
#include <rte_errno.h>
#include <rte_eal.h>
#include <rte_dev.h>
#include <rte_lcore.h>
#include <rte_memory.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ethdev.h>

/* ---- ethdev fast path ---- */
uint16_t pcscf_rte_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts,
                                uint16_t nb_pkts);
uint16_t pcscf_rte_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **tx_pkts,
                                uint16_t nb_pkts);

/* ---- mbuf allocation ---- */
struct rte_mbuf *pcscf_rte_pktmbuf_alloc(struct rte_mempool *mp);
int pcscf_rte_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned int count);
void pcscf_rte_pktmbuf_free(struct rte_mbuf *m);
void pcscf_rte_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned int count);
uint16_t pcscf_rte_pktmbuf_data_room_size(struct rte_mempool *mp);

/* ---- mbuf data (the Rust wrapper does these on the fields; the shim
 * versions are the reference its tests compare against, and the subject
 * of the shim-call overhead measurement) ---- */
void *pcscf_rte_pktmbuf_mtod(struct rte_mbuf *m);
uint16_t pcscf_rte_pktmbuf_data_len(const struct rte_mbuf *m);
uint16_t pcscf_rte_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t pcscf_rte_pktmbuf_tailroom(const struct rte_mbuf *m);
char *pcscf_rte_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *pcscf_rte_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
char *pcscf_rte_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
int pcscf_rte_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
/* Set ol_flags |= flags and the l2/l3 lengths used by TX checksum offload. */
void pcscf_mbuf_set_tx_offload(struct rte_mbuf *m, uint64_t ol_flags, uint16_t l2_len, uint16_t l3_len);

/* ---- misc inline / thread-local ---- */
void pcscf_rte_prefetch0(const void *p);
unsigned int pcscf_rte_lcore_id(void);
int pcscf_rte_errno(void);

/* ---- Constants bindgen cannot evaluate (DPDK writes them with the RTE_BIT64()
 * function-like macro). Seen only by bindgen (-DPCSCF_BINDGEN): an enum with a
 * 64-bit underlying type makes libclang evaluate each one from the real headers. */
#ifdef PCSCF_BINDGEN
enum pcscf_rss_hf : uint64_t {
	PCSCF_RSS_IPV4 = RTE_ETH_RSS_IPV4,
	PCSCF_RSS_FRAG_IPV4 = RTE_ETH_RSS_FRAG_IPV4,
	PCSCF_RSS_NONFRAG_IPV4_TCP = RTE_ETH_RSS_NONFRAG_IPV4_TCP,
	PCSCF_RSS_NONFRAG_IPV4_UDP = RTE_ETH_RSS_NONFRAG_IPV4_UDP,
	PCSCF_RSS_NONFRAG_IPV4_SCTP = RTE_ETH_RSS_NONFRAG_IPV4_SCTP,
	PCSCF_RSS_NONFRAG_IPV4_OTHER = RTE_ETH_RSS_NONFRAG_IPV4_OTHER,
	PCSCF_RSS_IPV6 = RTE_ETH_RSS_IPV6,
	PCSCF_RSS_FRAG_IPV6 = RTE_ETH_RSS_FRAG_IPV6,
	PCSCF_RSS_NONFRAG_IPV6_TCP = RTE_ETH_RSS_NONFRAG_IPV6_TCP,
	PCSCF_RSS_NONFRAG_IPV6_UDP = RTE_ETH_RSS_NONFRAG_IPV6_UDP,
	PCSCF_RSS_NONFRAG_IPV6_SCTP = RTE_ETH_RSS_NONFRAG_IPV6_SCTP,
	PCSCF_RSS_NONFRAG_IPV6_OTHER = RTE_ETH_RSS_NONFRAG_IPV6_OTHER,
	PCSCF_RSS_IPV6_EX = RTE_ETH_RSS_IPV6_EX,
	PCSCF_RSS_IPV6_TCP_EX = RTE_ETH_RSS_IPV6_TCP_EX,
	PCSCF_RSS_IPV6_UDP_EX = RTE_ETH_RSS_IPV6_UDP_EX,
	PCSCF_RSS_L2_PAYLOAD = RTE_ETH_RSS_L2_PAYLOAD,
	PCSCF_RSS_ESP = RTE_ETH_RSS_ESP,
	PCSCF_RSS_AH = RTE_ETH_RSS_AH,
	PCSCF_RSS_IP = RTE_ETH_RSS_IP,
	PCSCF_RSS_UDP = RTE_ETH_RSS_UDP,
	PCSCF_RSS_TCP = RTE_ETH_RSS_TCP
};
enum pcscf_rx_offload : uint64_t {
	PCSCF_RX_OFFLOAD_VLAN_STRIP = RTE_ETH_RX_OFFLOAD_VLAN_STRIP,
	PCSCF_RX_OFFLOAD_IPV4_CKSUM = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM,
	PCSCF_RX_OFFLOAD_UDP_CKSUM = RTE_ETH_RX_OFFLOAD_UDP_CKSUM,
	PCSCF_RX_OFFLOAD_TCP_CKSUM = RTE_ETH_RX_OFFLOAD_TCP_CKSUM,
	PCSCF_RX_OFFLOAD_SCATTER = RTE_ETH_RX_OFFLOAD_SCATTER,
	PCSCF_RX_OFFLOAD_RSS_HASH = RTE_ETH_RX_OFFLOAD_RSS_HASH,
	PCSCF_RX_OFFLOAD_CHECKSUM = RTE_ETH_RX_OFFLOAD_CHECKSUM
};
enum pcscf_tx_offload : uint64_t {
	PCSCF_TX_OFFLOAD_VLAN_INSERT = RTE_ETH_TX_OFFLOAD_VLAN_INSERT,
	PCSCF_TX_OFFLOAD_IPV4_CKSUM = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM,
	PCSCF_TX_OFFLOAD_UDP_CKSUM = RTE_ETH_TX_OFFLOAD_UDP_CKSUM,
	PCSCF_TX_OFFLOAD_TCP_CKSUM = RTE_ETH_TX_OFFLOAD_TCP_CKSUM,
	PCSCF_TX_OFFLOAD_MULTI_SEGS = RTE_ETH_TX_OFFLOAD_MULTI_SEGS,
	PCSCF_TX_OFFLOAD_MBUF_FAST_FREE = RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE
};
#endif

#endif
