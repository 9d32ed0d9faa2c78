namespace SrMobile.Cli;

/// <summary>Where the CLI writes: results to <see cref="Out"/>, progress and errors to <see cref="Error"/>.</summary>
public sealed record CliConsole(TextWriter Out, TextWriter Error, bool ErrorIsTerminal)
{
    public static CliConsole System => new(Console.Out, Console.Error, !Console.IsErrorRedirected);
}
