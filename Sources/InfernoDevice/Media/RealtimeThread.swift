import CInfernoSys
import Glibc

/// A named, joinable pthread. With a `priority` it asks for SCHED_FIFO (the audio engines); when the process
/// may not use real-time scheduling (no CAP_SYS_NICE / RLIMIT_RTPRIO) the thread runs with normal scheduling and
/// `realtime` is false, so the caller can log the fallback once, off the audio path. Without a priority it is a
/// plain background thread (the clock's socket threads).
public final class RealtimeThread: @unchecked Sendable {
    public let name: String
    public private(set) var realtime = false
    private var thread = pthread_t()
    private var joined = false
    private let body: () -> Void

    private init(name: String, body: @escaping () -> Void) {
        self.name = name
        self.body = body
    }

    /// Starts `body` on a new thread, SCHED_FIFO at `priority` when given and permitted.
    public static func start(name: String, priority: Int32? = nil, body: @escaping () -> Void) -> RealtimeThread {
        let t = RealtimeThread(name: name, body: body)
        let entry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { arg in
            let me = Unmanaged<RealtimeThread>.fromOpaque(arg!).takeRetainedValue()
            inferno_set_thread_name(me.name)
            me.body()
            return nil
        }
        var rc: Int32 = -1
        if let priority {
            var attr = pthread_attr_t()
            pthread_attr_init(&attr)
            var param = sched_param(sched_priority: priority)
            pthread_attr_setinheritsched(&attr, Int32(PTHREAD_EXPLICIT_SCHED))
            pthread_attr_setschedpolicy(&attr, SCHED_FIFO)
            pthread_attr_setschedparam(&attr, &param)
            let arg = Unmanaged.passRetained(t).toOpaque()
            rc = pthread_create(&t.thread, &attr, entry, arg)
            pthread_attr_destroy(&attr)
            if rc == 0 { t.realtime = true } else { Unmanaged<RealtimeThread>.fromOpaque(arg).release() }
        }
        if rc != 0 {
            rc = pthread_create(&t.thread, nil, entry, Unmanaged.passRetained(t).toOpaque())
            precondition(rc == 0, "pthread_create failed for \(name): \(rc)")
        }
        return t
    }

    /// Waits for the thread to finish; later calls return at once. Call from another thread.
    public func join() {
        guard !joined else { return }
        joined = true
        pthread_join(thread, nil)
    }
}
