import CInfernoSys
import Glibc

/// Starts a named thread for an audio engine and tries SCHED_FIFO at `priority`. When the process may not use
/// real-time scheduling (no CAP_SYS_NICE / RLIMIT_RTPRIO), the thread runs with normal scheduling and the
/// returned `realtime` is false so the caller can log the fallback once, off the audio path.
public final class RealtimeThread: @unchecked Sendable {
    public let name: String
    private var thread = pthread_t()
    private let body: () -> Void
    public private(set) var realtime = false

    private init(name: String, body: @escaping () -> Void) {
        self.name = name
        self.body = body
    }

    /// Starts the thread; `body` runs on it until it returns.
    public static func start(name: String, priority: Int32, body: @escaping () -> Void) -> RealtimeThread {
        let t = RealtimeThread(name: name, body: body)
        let unmanaged = Unmanaged.passRetained(t)
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        var rt = false
        // Ask for FIFO through the attributes; fall back to default scheduling if creation is refused.
        var param = sched_param(sched_priority: priority)
        pthread_attr_setinheritsched(&attr, Int32(PTHREAD_EXPLICIT_SCHED))
        pthread_attr_setschedpolicy(&attr, SCHED_FIFO)
        pthread_attr_setschedparam(&attr, &param)
        var rc = pthread_create(&t.thread, &attr, { arg in
            let me = Unmanaged<RealtimeThread>.fromOpaque(arg!).takeRetainedValue()
            inferno_set_thread_name(me.name)
            me.body()
            return nil
        }, unmanaged.toOpaque())
        if rc == 0 {
            rt = true
        } else {
            rc = pthread_create(&t.thread, nil, { arg in
                let me = Unmanaged<RealtimeThread>.fromOpaque(arg!).takeRetainedValue()
                me.body()
                return nil
            }, unmanaged.toOpaque())
            precondition(rc == 0, "pthread_create failed: \(rc)")
        }
        t.realtime = rt
        return t
    }

    public func join() { pthread_join(thread, nil) }
}

