/*
 * layout_dump: the sizes and field offsets of the C structs that the Python
 * package mirrors with ctypes (myelon/python/myelon/_ffi.py), as JSON, so
 * that test_myelon.py can compare them: a header change not carried into
 * the mirror fails a test instead of corrupting memory.
 */
#include <stddef.h>
#include <stdio.h>

#include <disruptor_mp/disruptor_mp.h>
#include <myelon/myelon.h>

static int first;

#define BEGIN(name, T) printf("%s\"%s\":{\"size\":%zu,\"fields\":{", first++ ? "," : "", name, sizeof(T))
#define F(T, m, sep) printf("%s\"%s\":%zu", sep, #m, offsetof(T, m))
#define END() printf("}}")

int main(void)
{
  printf("{");
  BEGIN("WaitStrategy", struct dmp_wait_strategy);
  F(struct dmp_wait_strategy, kind, ""); F(struct dmp_wait_strategy, spins, ",");
  F(struct dmp_wait_strategy, sleep_ns, ","); F(struct dmp_wait_strategy, liveness_ms, ",");
  F(struct dmp_wait_strategy, reserved, ",");
  END();
#define PC struct dmp_producer_config
  BEGIN("ProducerConfig", PC);
  F(PC, backend, ""); F(PC, name, ","); F(PC, capacity, ","); F(PC, slot_size, ","); F(PC, slot_align, ",");
  F(PC, max_consumers, ","); F(PC, type_tag, ","); F(PC, mode, ","); F(PC, flags, ","); F(PC, share_gid, ",");
  F(PC, wait, ","); F(PC, wait_consumers, ","); F(PC, wait_timeout_ns, ","); F(PC, cpus, ",");
  F(PC, reserved, ",");
  END();
#define CC struct dmp_consumer_config
  BEGIN("ConsumerConfig", CC);
  F(CC, backend, ""); F(CC, name, ","); F(CC, id, ","); F(CC, slot_size, ","); F(CC, slot_align, ",");
  F(CC, type_tag, ","); F(CC, start, ","); F(CC, flags, ","); F(CC, wait, ","); F(CC, cpus, ",");
  F(CC, reserved, ",");
  END();
#define FPC struct myelon_producer_config
  BEGIN("FramedProducerConfig", FPC);
  F(FPC, ring, ""); F(FPC, format, ","); F(FPC, frame_capacity, ","); F(FPC, max_message, ","); F(FPC, ring_bytes, ",");
  F(FPC, reserved, ",");
  END();
#define FCC struct myelon_consumer_config
  BEGIN("FramedConsumerConfig", FCC);
  F(FCC, ring, ""); F(FCC, format, ","); F(FCC, frame_capacity, ","); F(FCC, max_message, ",");
  F(FCC, reserved, ",");
  END();
#define MS struct myelon_msg
  BEGIN("Msg", MS);
  F(MS, data, ""); F(MS, len, ","); F(MS, kind, ","); F(MS, msg_id, ","); F(MS, zero_copy, ",");
  END();
#define CS struct dmp_consumer_stat
  BEGIN("ConsumerStat", CS);
  F(CS, id, ""); F(CS, index, ","); F(CS, state, ","); F(CS, liveness, ","); F(CS, gating, ",");
  F(CS, durable, ","); F(CS, non_gating, ","); F(CS, pid, ","); F(CS, generation, ",");
  F(CS, attached_ns, ","); F(CS, position, ","); F(CS, consumed, ","); F(CS, lag, ",");
  END();
#define RS struct dmp_ring_stat
  /* the mirror is a prefix: its size is compared as "at most" */
  BEGIN("RingStat", RS);
  F(RS, backend, ""); F(RS, name, ","); F(RS, epoch, ","); F(RS, created_ns, ","); F(RS, capacity, ",");
  F(RS, slot_size, ","); F(RS, slot_align, ","); F(RS, max_consumers, ","); F(RS, flags, ",");
  F(RS, type_tag, ","); F(RS, total_size, ","); F(RS, owner_pid, ","); F(RS, producer_alive, ",");
  F(RS, removed, ","); F(RS, position, ","); F(RS, published, ","); F(RS, min_gating, ","); F(RS, full, ",");
  F(RS, sampled_ns, ","); F(RS, n_consumers, ","); F(RS, consumers, ","); F(RS, counters_rc, ",");
  F(RS, counters_error, ",");
  END();
#define LC struct myelon_layout_config
  BEGIN("LayoutConfig", LC);
  F(LC, label, ""); F(LC, prefix, ","); F(LC, workers, ","); F(LC, request_depth, ",");
  F(LC, response_depth, ","); F(LC, backend, ","); F(LC, dir, ","); F(LC, reserved, ",");
  END();
#define TC struct myelon_topology_config
  BEGIN("TopologyConfig", TC);
  F(TC, layout, ""); F(TC, workers, ","); F(TC, no_responses, ","); F(TC, format, ",");
  F(TC, frame_capacity, ","); F(TC, max_message, ","); F(TC, wait, ","); F(TC, responses, ",");
  F(TC, reserved32, ","); F(TC, reserved, ",");
  END();
#define SM struct myelon_step_msg
  BEGIN("StepMsg", SM);
  F(SM, step, ""); F(SM, worker, ","); F(SM, kind, ","); F(SM, data, ","); F(SM, len, ",");
  F(SM, zero_copy, ",");
  END();
#define GA struct myelon_gather
  BEGIN("Gather", GA);
  F(GA, answered, ""); F(GA, dead, ","); F(GA, late, ","); F(GA, skipped, ","); F(GA, stale, ",");
  F(GA, malformed, ",");
  END();
  printf("}\n");
  return 0;
}
