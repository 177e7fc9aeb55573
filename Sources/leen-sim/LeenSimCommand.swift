import ArgumentParser

@main
struct LeenSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leen-sim",
        abstract: "A local simulator of the Leen Security provisioning API.",
        discussion: """
            Without a subcommand, leen-sim runs the simulator: `leen-sim --organizations 3 --connections 24` is \
            `leen-sim serve --organizations 3 --connections 24`. See docs/simulator.md.
            """,
        subcommands: [ServeCommand.self, FleetCommand.self],
        defaultSubcommand: ServeCommand.self)
}
