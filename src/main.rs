fn main() -> std::process::ExitCode {
    helpdesk::cli::main()
}
