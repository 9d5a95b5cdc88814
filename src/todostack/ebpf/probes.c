/*
 * Todo Stack's USDT probes (provider "todostack"), one small function per probe.
 *
 * Built into libtodostack_probes.so (`make ebpf-probes`, or on first use: see build.py) and called
 * through ctypes by todostack/ebpf/probes.py. Every probe has a semaphore: the kernel (or bpftrace)
 * raises it while someone traces the probe, and the Python side reads it before building any
 * argument, so an untraced probe costs one memory read.
 */
#define _SDT_HAS_SEMAPHORES 1
#include <stdint.h>
#include <sys/sdt.h>

#define SEMAPHORE(name) \
    __extension__ unsigned short todostack_##name##_semaphore __attribute__((unused, section(".probes"), visibility("default")))

SEMAPHORE(request__start);
SEMAPHORE(request__done);
SEMAPHORE(db__query__start);
SEMAPHORE(db__query__done);
SEMAPHORE(autoprof__report);
SEMAPHORE(memory__guard);
SEMAPHORE(cancel);

/* The ABI version: probes.py refuses a library built from another version of this file. */
int todostack_probes_abi(void) { return 1; }

void todostack_request_start(const char *method, const char *route, const char *request_id) {
    STAP_PROBE3(todostack, request__start, method, route, request_id);
}

/* The five arguments, then the request id: the slowest requests can be named. */
void todostack_request_done(const char *method, const char *route, int64_t status, int64_t duration_us,
                            const char *cause, const char *request_id) {
    STAP_PROBE6(todostack, request__done, method, route, status, duration_us, cause, request_id);
}

void todostack_db_query_start(const char *system, const char *operation, const char *table) {
    STAP_PROBE3(todostack, db__query__start, system, operation, table);
}

void todostack_db_query_done(const char *system, const char *operation, const char *table, int64_t duration_us) {
    STAP_PROBE4(todostack, db__query__done, system, operation, table, duration_us);
}

void todostack_autoprof_report(const char *metric, int64_t value) {
    STAP_PROBE2(todostack, autoprof__report, metric, value);
}

void todostack_memory_guard(const char *step, int64_t rss) { STAP_PROBE2(todostack, memory__guard, step, rss); }

void todostack_cancel(const char *cause) { STAP_PROBE1(todostack, cancel, cause); }
