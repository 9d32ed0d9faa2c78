using System.CommandLine;
using System.Text.Json;
using SrMobile.Cli.Commands;
using SrMobile.Engine;

namespace SrMobile.Cli;

/// <summary>The <c>srmobile</c> command tree. Exit codes: 0 done, 1 usage error, 2 bad input, 130 cancelled.</summary>
public static class SrMobileCommand
{
    /// <summary>How every command writes --json: indented, snake_case.</summary>
    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public const int BadInput = 2;
    public const int Cancelled = 130;

    public static async Task<int> RunAsync(string[] args, CliConsole console, CancellationToken cancellation = default)
    {
        var root = new RootCommand("SrMobile: train, quantize, test and benchmark int8 ABPN super-resolution networks.");
        root.Subcommands.Add(TrainCommand.Create(console));
        root.Subcommands.Add(TestCommand.Create(console));
        root.Subcommands.Add(DemoCommand.Create(console));
        root.Subcommands.Add(ExportCommand.Create(console));
        root.Subcommands.Add(QuantizeCommand.Create(console));
        root.Subcommands.Add(BenchCommand.Create(console));
        root.Subcommands.Add(SearchCommand.Create(console));
        root.Subcommands.Add(DeviceCommand.Create(console));
        root.Subcommands.Add(SiloCommand.Create());
        // Ctrl-C cancels the token; training then writes its checkpoint, which may take a few seconds.
        var configuration = new InvocationConfiguration { Output = console.Out, Error = console.Error, ProcessTerminationTimeout = TimeSpan.FromSeconds(60) };
        return await root.Parse(args).InvokeAsync(configuration, cancellation);
    }

    /// <summary>Runs a command body: bad input becomes one line on stderr and exit code 2, never a stack trace.</summary>
    public static async Task<int> Guard(CliConsole console, Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (BadInputException e)
        {
            console.Error.WriteLine($"error: {e.Message}");
            return BadInput;
        }
        catch (OperationCanceledException)
        {
            console.Error.WriteLine("cancelled");
            return Cancelled;
        }
    }

    public static void CheckScale(int scale)
    {
        if (!Engine.Models.AbpnArchitecture.SupportedScales.Contains(scale))
            throw new BadInputException($"--scale must be 2, 3 or 4, not {scale}");
    }

    /// <summary>A folder shipped beside the program (samples/, options/).</summary>
    public static string Bundled(string relative) => Path.Combine(AppContext.BaseDirectory, relative);
}
