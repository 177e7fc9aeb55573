import Hummingbird

/// Request context carrying the fault decided for the request, so the response can be damaged to order.
public struct SimulatorRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    var fault: FaultDecision.Action?
    /// Whether the simulator is stopping: a fault that holds a response back (`stall_body`) gives up then.
    var isStopping: @Sendable () -> Bool = { false }

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}
