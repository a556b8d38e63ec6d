// Counts packets and bytes per IP protocol in a per-CPU hash, passes everything.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800

struct proto_stats {
	__u64 packets;
	__u64 bytes;
	__u32 last_len;
	/* 4 bytes of tail padding: shown in the hover's layout table */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 256);
	__type(key, __u8);
	__type(value, struct proto_stats);
} stats SEC(".maps");

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct proto_stats *s, init = {};
	__u8 proto;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	proto = ip->protocol;
	s = bpf_map_lookup_elem(&stats, &proto);
	if (!s) {
		bpf_map_update_elem(&stats, &proto, &init, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&stats, &proto);
		if (!s)
			return XDP_PASS;
	}
	s->packets++;
	s->bytes += data_end - data;
	s->last_len = data_end - data;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
