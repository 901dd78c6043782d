// The PipeWire side of inferno-wired, in C because PipeWire's API is macro-heavy: two pw_filter nodes with one
// mono F32 DSP port per Dante channel (a source for RX, a sink for TX), and a port-less driver node that starts
// each graph cycle when the Dante media clock says so. Audio goes to and from Swift through `process`, called on
// PipeWire's data thread; the media clock comes from Swift through `clock`.
#ifndef INFERNO_PW_H
#define INFERNO_PW_H
#include <stddef.h>
#include <stdint.h>

typedef struct inferno_pw inferno_pw;

/// The two audio nodes.
enum { INFERNO_PW_SOURCE = 0, INFERNO_PW_SINK = 1 };

/// One graph cycle as one of our nodes sees it.
typedef struct inferno_pw_cycle {
    uint64_t position;  ///< the driver's clock position, in samples at `rate`
    uint64_t nsec;      ///< CLOCK_MONOTONIC ns at which the driver started the cycle
    uint32_t samples;   ///< samples in this cycle
    uint32_t rate;      ///< graph sample rate
    int32_t driving;    ///< 1 when our media-clock driver runs this cycle
    int32_t reserved;
} inferno_pw_cycle;

/// Called on the data thread once per cycle and node. `ports[i]` is NULL when port i has no buffer this cycle
/// (an unlinked input); output buffers must be filled completely.
typedef void (*inferno_pw_process_fn)(void *ctx, int32_t node, const inferno_pw_cycle *cycle,
                                      float *const *ports, uint32_t n_ports);
/// Reads the media clock (PTP-timescale ns) and CLOCK_MONOTONIC as close together as possible; returns 0, or
/// -1 while there is no media clock. Called on the data thread: must not block.
typedef int32_t (*inferno_pw_clock_fn)(void *ctx, int64_t *media_ns, int64_t *mono_ns);

/// Events for the control side, called on PipeWire's main-loop thread.
enum {
    INFERNO_PW_EVENT_DISCONNECTED = 1,  ///< the daemon went away; message says why
    INFERNO_PW_EVENT_ERROR = 2,         ///< an error on one of our objects (value = node or -1)
    INFERNO_PW_EVENT_STATE = 3,         ///< value = node, message = the new state's name
};
typedef void (*inferno_pw_event_fn)(void *ctx, int32_t kind, int32_t value, const char *message);

typedef struct inferno_pw_config {
    const char *node_name;          ///< node.name of both audio nodes
    const char *group;              ///< node.group shared by the audio nodes and the driver
    const char *clock_name;         ///< the driver's clock name
    const char *driver_name;        ///< node.name of the driver
    const char *description[2];     ///< node.description per audio node
    const char *nick[2];            ///< node.nick per audio node
    uint32_t n_ports[2];            ///< ports per audio node (0: the node is not created)
    const char *port_names[2];      ///< newline-separated port names (Dante channel names)
    const char *port_aliases[2];    ///< newline-separated port aliases
    uint32_t rate;                  ///< the device's sample rate (node.rate request, driver fallback)
    uint32_t quantum;               ///< requested quantum (node.latency), 0 = the graph's default
    int32_t drive;                  ///< 1: create the media-clock driver
    int32_t driver_priority;        ///< priority.driver of the driver
    void *ctx;
    inferno_pw_process_fn process;
    inferno_pw_clock_fn clock;
    inferno_pw_event_fn event;
} inferno_pw_config;

/// pw_init; call once.
void inferno_pw_init(void);
/// The socket(s) libpipewire will try, for error messages ("A or B").
void inferno_pw_remote_description(char *buf, size_t len);
/// Checks that the daemon answers (connect, disconnect); -1 with a one-line reason in `err` if not.
int inferno_pw_probe(char *err, size_t err_len);
/// Connects to the daemon and creates the nodes. NULL on failure, with a one-line reason in `err`.
inferno_pw *inferno_pw_open(const inferno_pw_config *config, char *err, size_t err_len);
/// Removes the nodes, disconnects and frees everything. Safe after a disconnection.
void inferno_pw_close(inferno_pw *pw);
/// Renames port `port` of `node` (port.name and port.alias).
int inferno_pw_set_port(inferno_pw *pw, int32_t node, uint32_t port, const char *name, const char *alias);
/// Updates node.description and node.nick of `node`.
int inferno_pw_set_description(inferno_pw *pw, int32_t node, const char *description, const char *nick);
/// The global id of a node (audio node 0/1, or 2 = the driver); UINT32_MAX if unknown.
uint32_t inferno_pw_node_id(inferno_pw *pw, int32_t node);
/// The driver's estimate of media clock rate / CLOCK_MONOTONIC rate, published in its clock (rate_diff).
void inferno_pw_set_rate_diff(inferno_pw *pw, double rate_diff);
/// Driver statistics: cycles started, re-anchors to the media clock, cycles paced without a media clock, and
/// whether it is driving (1), standing by for another driver (0) or idle (-1: PipeWire suspended the group).
void inferno_pw_driver_stats(inferno_pw *pw, uint64_t *cycles, uint64_t *resyncs, uint64_t *no_clock,
                             int32_t *driving);
#endif
