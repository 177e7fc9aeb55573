import Hummingbird

/// Request context carrying the fault decided for the request, so the response can be damaged to order.
public struct SimulatorRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    var fault: FaultDecision.Action?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}
