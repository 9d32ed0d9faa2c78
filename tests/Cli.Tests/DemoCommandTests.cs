using SrMobile.Tests;

namespace SrMobile.Cli.Tests;

public class DemoCommandTests
{
    [Fact]
    public async Task Demo_trains_on_the_bundled_photos_tests_against_bicubic_and_retests_when_run_again()
    {
        using var work = TestData.NewTemporaryFolder();
        var first = await CliRunner.Run("demo", "--iterations", "30", "--workdir", work.Path);
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Contains("abpn vs bicubic", first.Out);
        Assert.Contains("palapeli_citrus_fruits", first.Out);
        Assert.Contains("mean", first.Out);
        Assert.Equal(2, Directory.GetFiles(Path.Combine(work.Path, "experiment", "demo", "results"), "*.png").Length);

        var again = await CliRunner.Run("demo", "--iterations", "30", "--workdir", work.Path);
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("already trained", again.Error);
        Assert.Equal(first.Out, again.Out);
    }
}
