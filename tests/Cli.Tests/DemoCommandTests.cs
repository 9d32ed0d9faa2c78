using SrMobile.Tests;

namespace SrMobile.Cli.Tests;

public class DemoCommandTests
{
    [Fact]
    public async Task Demo_runs_the_bundled_search_to_its_pareto_front_and_reprints_it_when_run_again()
    {
        using var work = TestData.NewTemporaryFolder();
        var first = await CliRunner.Run("demo", "--no-dashboard", "--quick", "--iterations", "20", "--workdir", work.Path);
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Contains("demo: 8 candidates", first.Error);
        // Every grid point trained, quantized, exported, scored on the int8 engine and timed here.
        var rows = first.Out.Split('\n').Where(l => l.TrimStart().StartsWith("samples-x3/x3-m", StringComparison.Ordinal)).ToList();
        Assert.Equal(8, rows.Count(r => r.Contains(" done ")));
        Assert.Contains("bicubic", first.Out);
        Assert.Contains("Pareto front x3 on local:", first.Out);
        Assert.True(Directory.Exists(Path.Combine(work.Path, ".srmobile", "demo", "state")));

        var again = await CliRunner.Run("demo", "--no-dashboard", "--quick", "--iterations", "20", "--workdir", work.Path);
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("demo resumes", again.Error);
        Assert.Equal(first.Out, again.Out);

        var other = await CliRunner.Run("demo", "--no-dashboard", "--quick", "--iterations", "30", "--workdir", work.Path);
        Assert.Equal(SrMobile.Cli.SrMobileCommand.BadInput, other.ExitCode);
        Assert.Contains("--fresh", other.Error);
    }
}
