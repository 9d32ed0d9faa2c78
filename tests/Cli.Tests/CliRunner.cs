namespace SrMobile.Cli.Tests;

internal sealed record CliRun(int ExitCode, string Out, string Error);

/// <summary>Runs the real command tree in-process with captured stdout and stderr.</summary>
internal static class CliRunner
{
    public static async Task<CliRun> Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await SrMobileCommand.RunAsync(args, new CliConsole(output, error, ErrorIsTerminal: false));
        return new CliRun(code, output.ToString(), error.ToString());
    }
}
