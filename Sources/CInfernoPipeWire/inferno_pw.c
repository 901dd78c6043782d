// PipeWire plumbing for inferno-wired (see include/inferno_pw.h).
//
// Two pw_filter nodes carry the audio: one mono F32 DSP port per Dante channel. Filters get their ports without
// a session manager. PipeWire 0.3.x filters cannot drive a graph cycle by cycle, so a third, port-less node
// (a spa_node exported with pw_core_export) is the driver: it shares node.group with the filters, and a timerfd
// on the data loop starts each cycle when the Dante media clock reaches the cycle's position, the way a sound
// card's driver does with its hardware clock. When a higher-priority driver takes the group, the driver stands
// down and the filters follow that driver (Swift resamples to stay locked to the media clock).
#define _GNU_SOURCE
#include "inferno_pw.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pipewire/pipewire.h>
#include <pipewire/filter.h>
#include <spa/node/io.h>
#include <spa/node/keys.h>
#include <spa/param/audio/raw.h>
#include <spa/node/node.h>
#include <spa/node/utils.h>
#include <spa/support/system.h>
#include <spa/utils/result.h>

#define MAX_PORTS 512

struct driver {
    struct spa_node node;
    struct inferno_pw *pw;
    struct spa_hook_list hooks;
    struct spa_callbacks callbacks;
    struct spa_node_info info;
    struct spa_dict_item info_items[1];
    struct spa_dict info_props;
    struct spa_io_clock *clock;
    struct spa_io_position *position;
    struct spa_system *data_system;
    struct spa_loop *data_loop;
    struct spa_source timer;
    bool timer_added;
    bool started;
    bool following;
    bool have_pos;
    uint64_t next_pos;    // clock position of the next cycle, samples
    uint64_t next_nsec;   // CLOCK_MONOTONIC deadline of the next cycle
    double rate_diff;
    uint64_t cycles, resyncs, no_clock;
    int32_t driving;
    struct pw_proxy *proxy;
    struct spa_hook proxy_listener;
    uint32_t global_id;
};

struct anode {
    struct inferno_pw *pw;
    int32_t which;
    struct pw_filter *filter;
    struct spa_hook listener;
    uint32_t n_ports;
    void **ports;
    float **bufs;
};

struct inferno_pw {
    inferno_pw_config cfg;
    char *strings[16];
    int n_strings;
    struct pw_thread_loop *loop;
    struct pw_context *context;
    struct pw_core *core;
    struct spa_hook core_listener;
    bool core_listening;
    struct anode nodes[2];
    struct driver drv;
    bool have_driver;
    int pending_seq;
    bool synced;
    bool failed;
    char failure[256];
};

static uint64_t mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * SPA_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

// Media time ↔ samples without overflow (TAI ns × 96000 does not fit 64 bits).
static uint64_t ns_to_samples(int64_t ns, uint32_t rate) {
    __int128 v = (__int128)ns * rate;
    if (v < 0) return 0;
    return (uint64_t)(v / SPA_NSEC_PER_SEC);
}

static int64_t samples_to_ns(uint64_t samples, uint32_t rate) {
    return (int64_t)(((__int128)samples * SPA_NSEC_PER_SEC + rate / 2) / rate);
}

// MARK: - the media-clock driver (a port-less spa_node)

static void driver_arm(struct driver *d, uint64_t deadline) {
    struct itimerspec ts = {0};
    ts.it_value.tv_sec = deadline / SPA_NSEC_PER_SEC;
    ts.it_value.tv_nsec = deadline % SPA_NSEC_PER_SEC;
    spa_system_timerfd_settime(d->data_system, d->timer.fd, SPA_FD_TIMER_ABSTIME, &ts, NULL);
}

static void driver_disarm(struct driver *d) {
    struct itimerspec ts = {0};
    spa_system_timerfd_settime(d->data_system, d->timer.fd, 0, &ts, NULL);
}

static bool driver_is_following(struct driver *d) {
    return d->position && d->clock && d->position->clock.id != d->clock->id;
}

// Data loop: (re)arm when driving, disarm when following or stopped.
static int do_driver_timers(struct spa_loop *loop, bool async, uint32_t seq, const void *data, size_t size,
                            void *user_data) {
    struct driver *d = user_data;
    if (!d->started || d->following) {
        driver_disarm(d);
        __atomic_store_n(&d->driving, d->started ? 0 : -1, __ATOMIC_RELAXED);
    } else {
        d->have_pos = false;
        d->next_nsec = mono_now();
        driver_arm(d, d->next_nsec);
    }
    return 0;
}

static void driver_reassign(struct driver *d) {
    if (!d->started) return;
    bool following = driver_is_following(d);
    if (following != d->following) {
        d->following = following;
        spa_loop_invoke(d->data_loop, do_driver_timers, 0, NULL, 0, true, d);
    }
}

static void driver_on_timeout(struct spa_source *source) {
    struct driver *d = source->data;
    struct inferno_pw *pw = d->pw;
    uint64_t expirations;
    if (spa_system_timerfd_read(d->data_system, d->timer.fd, &expirations) < 0) return;
    if (!d->started) return;
    if (driver_is_following(d)) {
        // Another driver took the group; stand down until set_io tells us otherwise.
        d->following = true;
        __atomic_store_n(&d->driving, 0, __ATOMIC_RELAXED);
        return;
    }
    uint32_t rate = d->position && d->position->clock.rate.denom ? d->position->clock.rate.denom : pw->cfg.rate;
    uint64_t duration = d->position && d->position->clock.duration ? d->position->clock.duration : 1024;
    if (rate == 0) rate = 48000;

    int64_t media_ns = 0, mono_ns = 0;
    uint64_t pos, nsec, deadline;
    if (pw->cfg.clock(pw->cfg.ctx, &media_ns, &mono_ns) == 0) {
        uint64_t media_pos = ns_to_samples(media_ns, rate);
        int64_t off = (int64_t)(media_pos - d->next_pos);
        // Start, or more than 200 ms away from where the media clock is (a clock step, a stall): re-anchor.
        if (!d->have_pos || off > (int64_t)rate / 5 || off < -(int64_t)rate / 5) {
            if (d->have_pos) d->resyncs++;
            d->next_pos = media_pos;
            d->have_pos = true;
        }
        pos = d->next_pos;
        nsec = (uint64_t)(mono_ns - (media_ns - samples_to_ns(pos, rate)));
        d->next_pos = pos + duration;
        int64_t wait = samples_to_ns(d->next_pos, rate) - media_ns;
        deadline = (uint64_t)(mono_ns + (wait > 0 ? wait : 0));
    } else {
        // No media clock: keep the graph running on CLOCK_MONOTONIC (the audio is silence meanwhile).
        d->no_clock++;
        uint64_t now = mono_now();
        pos = d->next_pos;
        nsec = now;
        d->next_pos = pos + duration;
        deadline = d->next_nsec + (uint64_t)samples_to_ns(duration, rate);
        if (deadline < now) deadline = now + (uint64_t)samples_to_ns(duration, rate);
    }
    d->next_nsec = deadline;
    if (d->clock) {
        d->clock->nsec = nsec;
        d->clock->position = pos;
        d->clock->duration = duration;
        d->clock->delay = 0;
        d->clock->rate_diff = d->rate_diff;
        d->clock->next_nsec = deadline;
    }
    d->cycles++;
    __atomic_store_n(&d->driving, 1, __ATOMIC_RELAXED);
    spa_node_call_ready(&d->callbacks, SPA_STATUS_HAVE_DATA | SPA_STATUS_NEED_DATA);
    driver_arm(d, deadline);
}

static void driver_emit_info(struct driver *d, bool full) {
    uint64_t old = full ? d->info.change_mask : 0;
    if (full) d->info.change_mask = SPA_NODE_CHANGE_MASK_FLAGS | SPA_NODE_CHANGE_MASK_PROPS;
    if (d->info.change_mask) {
        spa_node_emit_info(&d->hooks, &d->info);
        d->info.change_mask = old;
    }
}

static int driver_add_listener(void *object, struct spa_hook *listener, const struct spa_node_events *events,
                               void *data) {
    struct driver *d = object;
    struct spa_hook_list save;
    spa_hook_list_isolate(&d->hooks, &save, listener, events, data);
    driver_emit_info(d, true);
    spa_hook_list_join(&d->hooks, &save);
    return 0;
}

static int driver_set_callbacks(void *object, const struct spa_node_callbacks *callbacks, void *data) {
    struct driver *d = object;
    d->callbacks = SPA_CALLBACKS_INIT(callbacks, data);
    return 0;
}

static int driver_set_io(void *object, uint32_t id, void *data, size_t size) {
    struct driver *d = object;
    switch (id) {
    case SPA_IO_Clock:
        if (data && size < sizeof(struct spa_io_clock)) return -EINVAL;
        __atomic_store_n(&d->clock, (struct spa_io_clock *)data, __ATOMIC_RELEASE);
        if (d->clock && d->pw->cfg.clock_name)
            snprintf(d->clock->name, sizeof(d->clock->name), "%s", d->pw->cfg.clock_name);
        break;
    case SPA_IO_Position:
        if (data && size < sizeof(struct spa_io_position)) return -EINVAL;
        d->position = data;
        break;
    default:
        return -ENOENT;
    }
    driver_reassign(d);
    return 0;
}

static int driver_send_command(void *object, const struct spa_command *command) {
    struct driver *d = object;
    switch (SPA_NODE_COMMAND_ID(command)) {
    case SPA_NODE_COMMAND_Start:
        if (!d->started) {
            d->started = true;
            d->following = driver_is_following(d);
            spa_loop_invoke(d->data_loop, do_driver_timers, 0, NULL, 0, true, d);
        }
        break;
    case SPA_NODE_COMMAND_Pause:
    case SPA_NODE_COMMAND_Suspend:
        if (d->started) {
            d->started = false;
            spa_loop_invoke(d->data_loop, do_driver_timers, 0, NULL, 0, true, d);
        }
        break;
    default:
        return -ENOTSUP;
    }
    return 0;
}

static int driver_process(void *object) {
    return SPA_STATUS_HAVE_DATA | SPA_STATUS_NEED_DATA;
}

static const struct spa_node_methods driver_methods = {
    SPA_VERSION_NODE_METHODS,
    .add_listener = driver_add_listener,
    .set_callbacks = driver_set_callbacks,
    .set_io = driver_set_io,
    .send_command = driver_send_command,
    .process = driver_process,
};

static int do_add_timer(struct spa_loop *loop, bool async, uint32_t seq, const void *data, size_t size,
                        void *user_data) {
    struct driver *d = user_data;
    spa_loop_add_source(d->data_loop, &d->timer);
    return 0;
}

static int do_remove_timer(struct spa_loop *loop, bool async, uint32_t seq, const void *data, size_t size,
                           void *user_data) {
    struct driver *d = user_data;
    driver_disarm(d);
    spa_loop_remove_source(d->data_loop, &d->timer);
    return 0;
}

static void driver_proxy_destroy(void *data) {
    struct driver *d = data;
    spa_hook_remove(&d->proxy_listener);
    d->proxy = NULL;
}

static void driver_proxy_bound(void *data, uint32_t global_id) {
    struct driver *d = data;
    d->global_id = global_id;
}

static void driver_proxy_error(void *data, int seq, int res, const char *message) {
    struct driver *d = data;
    char buf[256];
    snprintf(buf, sizeof(buf), "media-clock driver: %s", message ? message : spa_strerror(res));
    d->pw->cfg.event(d->pw->cfg.ctx, INFERNO_PW_EVENT_ERROR, 2, buf);
}

static const struct pw_proxy_events driver_proxy_events = {
    PW_VERSION_PROXY_EVENTS,
    .destroy = driver_proxy_destroy,
    .bound = driver_proxy_bound,
    .error = driver_proxy_error,
};

static int driver_create(struct inferno_pw *pw) {
    struct driver *d = &pw->drv;
    struct pw_loop *data_loop = pw_data_loop_get_loop(pw_context_get_data_loop(pw->context));
    d->pw = pw;
    d->data_loop = data_loop->loop;
    d->data_system = data_loop->system;
    d->rate_diff = 1.0;
    d->global_id = SPA_ID_INVALID;
    d->driving = -1;
    spa_hook_list_init(&d->hooks);
    d->node.iface = SPA_INTERFACE_INIT(SPA_TYPE_INTERFACE_Node, SPA_VERSION_NODE, &driver_methods, d);
    d->info = SPA_NODE_INFO_INIT();
    d->info.max_input_ports = 0;
    d->info.max_output_ports = 0;
    d->info.flags = SPA_NODE_FLAG_RT;
    d->info_items[0] = SPA_DICT_ITEM_INIT(SPA_KEY_NODE_DRIVER, "true");
    d->info_props = SPA_DICT_INIT(d->info_items, 1);
    d->info.props = &d->info_props;

    int fd = spa_system_timerfd_create(d->data_system, CLOCK_MONOTONIC, SPA_FD_CLOEXEC | SPA_FD_NONBLOCK);
    if (fd < 0) return fd;
    d->timer.func = driver_on_timeout;
    d->timer.data = d;
    d->timer.fd = fd;
    d->timer.mask = SPA_IO_IN;
    d->timer.rmask = 0;
    spa_loop_invoke(d->data_loop, do_add_timer, 0, NULL, 0, true, d);
    d->timer_added = true;

    char prio[16];
    snprintf(prio, sizeof(prio), "%d", pw->cfg.driver_priority);
    struct pw_properties *props = pw_properties_new(
        PW_KEY_NODE_NAME, pw->cfg.driver_name,
        PW_KEY_NODE_DESCRIPTION, "Dante media clock",
        PW_KEY_NODE_GROUP, pw->cfg.group,
        PW_KEY_NODE_DRIVER, "true",
        PW_KEY_PRIORITY_DRIVER, prio,
        PW_KEY_NODE_PAUSE_ON_IDLE, "false",
        "clock.name", pw->cfg.clock_name,
        NULL);
    d->proxy = pw_core_export(pw->core, SPA_TYPE_INTERFACE_Node, &props->dict, &d->node, 0);
    pw_properties_free(props);
    if (d->proxy == NULL) return -errno;
    pw_proxy_add_listener(d->proxy, &d->proxy_listener, &driver_proxy_events, d);
    pw->have_driver = true;
    return 0;
}

static void driver_destroy(struct inferno_pw *pw) {
    struct driver *d = &pw->drv;
    if (d->timer_added) {
        spa_loop_invoke(d->data_loop, do_remove_timer, 0, NULL, 0, true, d);
        d->timer_added = false;
    }
    if (d->proxy) pw_proxy_destroy(d->proxy);
    if (d->timer.fd > 0) {
        spa_system_close(d->data_system, d->timer.fd);
        d->timer.fd = -1;
    }
}

// MARK: - the audio nodes (pw_filter)

static void node_on_process(void *data, struct spa_io_position *position) {
    struct anode *n = data;
    struct inferno_pw *pw = n->pw;
    if (position == NULL) return;
    inferno_pw_cycle cycle = {0};
    cycle.samples = (uint32_t)position->clock.duration;
    if (cycle.samples == 0) return;
    for (uint32_t i = 0; i < n->n_ports; i++)
        n->bufs[i] = pw_filter_get_dsp_buffer(n->ports[i], cycle.samples);
    cycle.position = position->clock.position;
    cycle.nsec = position->clock.nsec;
    cycle.rate = position->clock.rate.denom ? position->clock.rate.denom : pw->cfg.rate;
    struct spa_io_clock *ours = __atomic_load_n(&pw->drv.clock, __ATOMIC_ACQUIRE);
    cycle.driving = pw->have_driver && ours != NULL && ours->id == position->clock.id;
    pw->cfg.process(pw->cfg.ctx, n->which, &cycle, n->bufs, n->n_ports);
}

static void node_on_state(void *data, enum pw_filter_state old, enum pw_filter_state state, const char *error) {
    struct anode *n = data;
    struct inferno_pw *pw = n->pw;
    if (state == PW_FILTER_STATE_ERROR) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s node: %s", n->which == INFERNO_PW_SOURCE ? "source" : "sink",
                 error ? error : "error");
        pw->cfg.event(pw->cfg.ctx, INFERNO_PW_EVENT_ERROR, n->which, buf);
    } else {
        pw->cfg.event(pw->cfg.ctx, INFERNO_PW_EVENT_STATE, n->which, pw_filter_state_as_string(state));
    }
}

static const struct pw_filter_events node_events = {
    PW_VERSION_FILTER_EVENTS,
    .state_changed = node_on_state,
    .process = node_on_process,
};

// The i-th line of a newline-separated list (copied into buf).
static const char *nth_line(const char *list, uint32_t i, char *buf, size_t len) {
    const char *p = list ? list : "";
    for (uint32_t k = 0; k < i && p; k++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    if (!p) p = "";
    size_t n = strcspn(p, "\n");
    if (n >= len) n = len - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

static int node_create(struct inferno_pw *pw, int32_t which) {
    struct anode *n = &pw->nodes[which];
    const inferno_pw_config *c = &pw->cfg;
    n->pw = pw;
    n->which = which;
    n->n_ports = c->n_ports[which];
    if (n->n_ports == 0) return 0;
    if (n->n_ports > MAX_PORTS) return -EINVAL;
    n->ports = calloc(n->n_ports, sizeof(void *));
    n->bufs = calloc(n->n_ports, sizeof(float *));
    if (!n->ports || !n->bufs) return -ENOMEM;

    // audio.position = "AUX0,AUX1,…"
    size_t plen = (size_t)n->n_ports * 8 + 1;
    char *position = calloc(1, plen);
    if (!position) return -ENOMEM;
    for (uint32_t i = 0; i < n->n_ports; i++) {
        size_t used = strlen(position);
        snprintf(position + used, plen - used, "%sAUX%u", i ? "," : "", i);
    }
    struct pw_properties *props = pw_properties_new(
        PW_KEY_MEDIA_TYPE, "Audio",
        PW_KEY_MEDIA_CLASS, which == INFERNO_PW_SOURCE ? "Audio/Source" : "Audio/Sink",
        PW_KEY_NODE_NAME, c->node_name,
        PW_KEY_NODE_DESCRIPTION, c->description[which],
        PW_KEY_NODE_NICK, c->nick[which],
        PW_KEY_NODE_GROUP, c->group,
        PW_KEY_NODE_PAUSE_ON_IDLE, "false",
        SPA_KEY_AUDIO_POSITION, position,
        NULL);
    free(position);
    pw_properties_setf(props, PW_KEY_AUDIO_CHANNELS, "%u", n->n_ports);
    pw_properties_setf(props, PW_KEY_AUDIO_RATE, "%u", c->rate);
    pw_properties_setf(props, PW_KEY_NODE_RATE, "1/%u", c->rate);
    if (c->quantum) pw_properties_setf(props, PW_KEY_NODE_LATENCY, "%u/%u", c->quantum, c->rate);

    n->filter = pw_filter_new(pw->core, c->node_name, props);
    if (!n->filter) return -errno;
    pw_filter_add_listener(n->filter, &n->listener, &node_events, n);
    enum pw_direction dir = which == INFERNO_PW_SOURCE ? PW_DIRECTION_OUTPUT : PW_DIRECTION_INPUT;
    for (uint32_t i = 0; i < n->n_ports; i++) {
        char name[128], alias[256], chan[16];
        nth_line(c->port_names[which], i, name, sizeof(name));
        nth_line(c->port_aliases[which], i, alias, sizeof(alias));
        snprintf(chan, sizeof(chan), "AUX%u", i);
        struct pw_properties *pp = pw_properties_new(
            PW_KEY_FORMAT_DSP, "32 bit float mono audio",
            PW_KEY_PORT_NAME, name,
            PW_KEY_PORT_ALIAS, alias,
            PW_KEY_AUDIO_CHANNEL, chan,
            NULL);
        n->ports[i] = pw_filter_add_port(n->filter, dir, PW_FILTER_PORT_FLAG_MAP_BUFFERS, 0, pp, NULL, 0);
        if (!n->ports[i]) return -errno;
    }
    int res = pw_filter_connect(n->filter, PW_FILTER_FLAG_RT_PROCESS, NULL, 0);
    return res < 0 ? res : 0;
}

// MARK: - connection

static void on_core_error(void *data, uint32_t id, int seq, int res, const char *message) {
    struct inferno_pw *pw = data;
    char buf[320];
    if (id == PW_ID_CORE) {
        if (res == -EPIPE) {
            snprintf(buf, sizeof(buf), "the connection to PipeWire was lost (%s)", message ? message : "EPIPE");
            pw->cfg.event(pw->cfg.ctx, INFERNO_PW_EVENT_DISCONNECTED, 0, buf);
        } else {
            snprintf(buf, sizeof(buf), "PipeWire: %s (%s)", message ? message : "error", spa_strerror(res));
            pw->cfg.event(pw->cfg.ctx, INFERNO_PW_EVENT_ERROR, -1, buf);
        }
        if (!pw->synced) {
            pw->failed = true;
            snprintf(pw->failure, sizeof(pw->failure), "%s", buf);
        }
        pw_thread_loop_signal(pw->loop, false);
    } else {
        snprintf(buf, sizeof(buf), "PipeWire object %u: %s (%s)", id, message ? message : "error", spa_strerror(res));
        pw->cfg.event(pw->cfg.ctx, INFERNO_PW_EVENT_ERROR, -1, buf);
    }
}

static void on_core_done(void *data, uint32_t id, int seq) {
    struct inferno_pw *pw = data;
    if (id == PW_ID_CORE && seq == pw->pending_seq) {
        pw->synced = true;
        pw_thread_loop_signal(pw->loop, false);
    }
}

static const struct pw_core_events core_events = {
    PW_VERSION_CORE_EVENTS,
    .done = on_core_done,
    .error = on_core_error,
};

void inferno_pw_init(void) { pw_init(NULL, NULL); }

void inferno_pw_remote_description(char *buf, size_t len) {
    const char *name = getenv("PIPEWIRE_REMOTE");
    if (!name || !name[0]) name = PW_DEFAULT_REMOTE;
    if (name[0] == '/') {
        snprintf(buf, len, "%s", name);
        return;
    }
    const char *dir = getenv("PIPEWIRE_RUNTIME_DIR");
    if (!dir) dir = getenv("XDG_RUNTIME_DIR");
    if (!dir) dir = getenv("USERPROFILE");
    if (dir)
        snprintf(buf, len, "%s/%s (then /run/pipewire/%s)", dir, name, name);
    else
        snprintf(buf, len, "/run/pipewire/%s (XDG_RUNTIME_DIR is not set)", name);
}

static void connect_error(int e, char *err, size_t err_len) {
    char where[300];
    inferno_pw_remote_description(where, sizeof(where));
    snprintf(err, err_len, "cannot connect to PipeWire at %s: %s", where,
             e == EHOSTDOWN || e == ENOENT ? "no such socket (is pipewire running for this user?)" : strerror(e));
}

int inferno_pw_probe(char *err, size_t err_len) {
    struct pw_main_loop *loop = pw_main_loop_new(NULL);
    if (!loop) {
        snprintf(err, err_len, "cannot create a PipeWire loop: %s", strerror(errno));
        return -1;
    }
    struct pw_context *context = pw_context_new(pw_main_loop_get_loop(loop), NULL, 0);
    int res = 0;
    if (!context) {
        snprintf(err, err_len, "cannot create a PipeWire context: %s", strerror(errno));
        res = -1;
    } else {
        struct pw_core *core = pw_context_connect(context, NULL, 0);
        if (!core) {
            connect_error(errno, err, err_len);
            res = -1;
        } else {
            pw_core_disconnect(core);
        }
        pw_context_destroy(context);
    }
    pw_main_loop_destroy(loop);
    return res;
}

static char *keep(struct inferno_pw *pw, const char *s) {
    if (!s) return NULL;
    char *c = strdup(s);
    if (c && pw->n_strings < (int)(sizeof(pw->strings) / sizeof(pw->strings[0]))) pw->strings[pw->n_strings++] = c;
    return c;
}

inferno_pw *inferno_pw_open(const inferno_pw_config *config, char *err, size_t err_len) {
    struct inferno_pw *pw = calloc(1, sizeof(*pw));
    if (!pw) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pw->cfg = *config;
    pw->cfg.node_name = keep(pw, config->node_name);
    pw->cfg.group = keep(pw, config->group);
    pw->cfg.clock_name = keep(pw, config->clock_name);
    pw->cfg.driver_name = keep(pw, config->driver_name);
    for (int i = 0; i < 2; i++) {
        pw->cfg.description[i] = keep(pw, config->description[i]);
        pw->cfg.nick[i] = keep(pw, config->nick[i]);
        pw->cfg.port_names[i] = keep(pw, config->port_names[i]);
        pw->cfg.port_aliases[i] = keep(pw, config->port_aliases[i]);
    }
    pw->drv.timer.fd = -1;
    pw->drv.global_id = SPA_ID_INVALID;

    pw->loop = pw_thread_loop_new("inferno-pw", NULL);
    if (!pw->loop) {
        snprintf(err, err_len, "cannot create a PipeWire thread loop: %s", strerror(errno));
        goto fail;
    }
    pw->context = pw_context_new(pw_thread_loop_get_loop(pw->loop),
                                 pw_properties_new(PW_KEY_CONFIG_NAME, "client-rt.conf", NULL), 0);
    if (!pw->context) {
        snprintf(err, err_len, "cannot create a PipeWire context: %s", strerror(errno));
        goto fail;
    }
    if (pw_thread_loop_start(pw->loop) < 0) {
        snprintf(err, err_len, "cannot start the PipeWire thread loop");
        goto fail;
    }
    pw_thread_loop_lock(pw->loop);
    pw->core = pw_context_connect(pw->context, NULL, 0);
    if (!pw->core) {
        connect_error(errno, err, err_len);
        pw_thread_loop_unlock(pw->loop);
        goto fail;
    }
    pw_core_add_listener(pw->core, &pw->core_listener, &core_events, pw);
    pw->core_listening = true;

    int res;
    if (config->drive && (res = driver_create(pw)) < 0) {
        snprintf(err, err_len, "cannot create the media-clock driver node: %s", spa_strerror(res));
        pw_thread_loop_unlock(pw->loop);
        goto fail;
    }
    for (int32_t w = 0; w < 2; w++) {
        if ((res = node_create(pw, w)) < 0) {
            snprintf(err, err_len, "cannot create the %s node: %s", w == 0 ? "source" : "sink", spa_strerror(res));
            pw_thread_loop_unlock(pw->loop);
            goto fail;
        }
    }
    // One round trip: the daemon has seen (and accepted or refused) everything above.
    pw->pending_seq = pw_core_sync(pw->core, PW_ID_CORE, 0);
    for (int tries = 0; !pw->synced && !pw->failed && tries < 10; tries++)
        pw_thread_loop_timed_wait(pw->loop, 1);
    bool ok = pw->synced && !pw->failed;
    if (!ok)
        snprintf(err, err_len, "PipeWire did not accept the nodes: %s",
                 pw->failed ? pw->failure : "no answer within 10 s");
    pw_thread_loop_unlock(pw->loop);
    if (!ok) goto fail;
    return pw;
fail:
    inferno_pw_close(pw);
    return NULL;
}

void inferno_pw_close(inferno_pw *pw) {
    if (!pw) return;
    if (pw->loop) pw_thread_loop_lock(pw->loop);
    for (int i = 0; i < 2; i++) {
        if (pw->nodes[i].filter) {
            pw_filter_destroy(pw->nodes[i].filter);
            pw->nodes[i].filter = NULL;
        }
    }
    if (pw->context) driver_destroy(pw);
    if (pw->core_listening) {
        spa_hook_remove(&pw->core_listener);
        pw->core_listening = false;
    }
    if (pw->core) {
        pw_core_disconnect(pw->core);
        pw->core = NULL;
    }
    if (pw->loop) {
        pw_thread_loop_unlock(pw->loop);
        pw_thread_loop_stop(pw->loop);
    }
    if (pw->context) pw_context_destroy(pw->context);
    if (pw->loop) pw_thread_loop_destroy(pw->loop);
    for (int i = 0; i < 2; i++) {
        free(pw->nodes[i].ports);
        free(pw->nodes[i].bufs);
    }
    for (int i = 0; i < pw->n_strings; i++) free(pw->strings[i]);
    free(pw);
}

int inferno_pw_set_port(inferno_pw *pw, int32_t node, uint32_t port, const char *name, const char *alias) {
    if (!pw || node < 0 || node > 1) return -EINVAL;
    struct anode *n = &pw->nodes[node];
    if (!n->filter || port >= n->n_ports) return -EINVAL;
    struct spa_dict_item items[2] = {
        SPA_DICT_ITEM_INIT(PW_KEY_PORT_NAME, name),
        SPA_DICT_ITEM_INIT(PW_KEY_PORT_ALIAS, alias),
    };
    struct spa_dict dict = SPA_DICT_INIT(items, 2);
    pw_thread_loop_lock(pw->loop);
    int res = pw_filter_update_properties(n->filter, n->ports[port], &dict);
    pw_thread_loop_unlock(pw->loop);
    return res;
}

int inferno_pw_set_description(inferno_pw *pw, int32_t node, const char *description, const char *nick) {
    if (!pw || node < 0 || node > 1) return -EINVAL;
    struct anode *n = &pw->nodes[node];
    if (!n->filter) return -EINVAL;
    struct spa_dict_item items[2] = {
        SPA_DICT_ITEM_INIT(PW_KEY_NODE_DESCRIPTION, description),
        SPA_DICT_ITEM_INIT(PW_KEY_NODE_NICK, nick),
    };
    struct spa_dict dict = SPA_DICT_INIT(items, 2);
    pw_thread_loop_lock(pw->loop);
    int res = pw_filter_update_properties(n->filter, NULL, &dict);
    pw_thread_loop_unlock(pw->loop);
    return res;
}

uint32_t inferno_pw_node_id(inferno_pw *pw, int32_t node) {
    if (!pw) return SPA_ID_INVALID;
    if (node == 2) return pw->drv.global_id;
    if (node < 0 || node > 1 || !pw->nodes[node].filter) return SPA_ID_INVALID;
    pw_thread_loop_lock(pw->loop);
    uint32_t id = pw_filter_get_node_id(pw->nodes[node].filter);
    pw_thread_loop_unlock(pw->loop);
    return id;
}

void inferno_pw_set_rate_diff(inferno_pw *pw, double rate_diff) {
    if (pw) pw->drv.rate_diff = rate_diff;
}

void inferno_pw_driver_stats(inferno_pw *pw, uint64_t *cycles, uint64_t *resyncs, uint64_t *no_clock,
                             int32_t *driving) {
    *cycles = pw ? pw->drv.cycles : 0;
    *resyncs = pw ? pw->drv.resyncs : 0;
    *no_clock = pw ? pw->drv.no_clock : 0;
    *driving = pw ? __atomic_load_n(&pw->drv.driving, __ATOMIC_RELAXED) : 0;
}
