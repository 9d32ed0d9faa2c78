using System.CommandLine;
using SrMobile.Hosting;

namespace SrMobile.Cli.Commands;

/// <summary>
/// <c>srmobile silo [--SrMobile:Key=value ...]</c>: a cluster silo in this process, the same host as <c>srmobile-silo</c>
/// (roles, storage, ports from configuration: arguments and <c>SrMobile__*</c> environment variables). The chaos
/// benchmark starts its silos this way, so the CLI needs no other executable beside it.
/// </summary>
public static class SiloCommand
{
    public static Command Create()
    {
        var command = new Command("silo", "Run a cluster silo (as srmobile-silo): settings from --SrMobile:Key=value arguments and SrMobile__* environment variables")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.SetAction(async (parse, cancellation) =>
        {
            await SiloHost.Build([.. parse.UnmatchedTokens]).RunAsync(cancellation);
            return 0;
        });
        return command;
    }
}
