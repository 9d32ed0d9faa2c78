using System.Diagnostics;
using SrMobile.Tests;

namespace SrMobile.Cli.Tests;

/// <summary>The <c>./srmobile</c> launcher of a clone: it builds the CLI, and a newcomer sees only the command's own output.</summary>
public class LauncherTests
{
    [Fact]
    public async Task The_launcher_prints_nothing_of_the_build_only_the_command()
    {
        var start = new ProcessStartInfo("bash", [Path.Combine(TestData.RepositoryRoot, "srmobile"), "--help"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = TestData.RepositoryRoot,
        };
        using var launcher = Process.Start(start)!;
        var output = launcher.StandardOutput.ReadToEndAsync();
        var error = launcher.StandardError.ReadToEndAsync();
        await launcher.WaitForExitAsync();

        Assert.True(launcher.ExitCode == 0, $"exit {launcher.ExitCode}: {await error}");
        Assert.Equal("", await error);
        Assert.StartsWith("Description:", (await output).TrimStart());
        Assert.DoesNotContain("Build succeeded", await output);
        Assert.DoesNotContain("Warning(s)", await output);
    }
}
