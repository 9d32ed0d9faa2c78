using System.Text.Json;
using SrMobile.Tests;

namespace SrMobile.Cli.Tests;

public class TrainCommandTests
{
    private static string Options(TemporaryFolder work, string body, string? train = null)
    {
        var path = work.File("options.yaml");
        File.WriteAllText(path, $"""
            scale: 3
            network:
              depth: 1
              width: 4
            datasets:
              train:
                mode: hr
                dataroot_HR: {train ?? TestData.Samples}
            {body}
            """);
        return path;
    }

    private static Task<CliRun> Train(TemporaryFolder work, string options, params string[] extra) =>
        CliRunner.Run(["train", "--opt", options, "--name", "run", "--workdir", work.Path, .. extra]);

    [Fact]
    public async Task Unknown_key_is_named_with_its_file_and_line()
    {
        using var work = TestData.NewTemporaryFolder();
        var run = await Train(work, Options(work, "train:\n  batch_sise: 4\n"));
        Assert.Equal(SrMobileCommand.BadInput, run.ExitCode);
        Assert.Contains($"{work.File("options.yaml")}:10: unknown key 'train.batch_sise'", run.Error);
    }

    [Fact]
    public async Task Wrong_type_is_named_with_its_field()
    {
        using var work = TestData.NewTemporaryFolder();
        var run = await Train(work, Options(work, "train:\n  lr: fast\n"));
        Assert.Equal(SrMobileCommand.BadInput, run.ExitCode);
        Assert.Contains("train.lr: expected a number, got 'fast'", run.Error);
        Assert.Contains(work.File("options.yaml"), run.Error);
    }

    [Theory]
    [InlineData("--scale", "5", "scale must be 2, 3 or 4, not 5")]
    [InlineData("--depth", "0", "depth must be at least 1, not 0")]
    [InlineData("--width", "0", "width must be at least 1, not 0")]
    [InlineData("--ps", "400", "is smaller than patch_size 400")]
    public async Task Out_of_range_values_are_refused(string option, string value, string message)
    {
        using var work = TestData.NewTemporaryFolder();
        var run = await Train(work, Options(work, "train:\n  iterations: 2\n"), option, value);
        Assert.Equal(SrMobileCommand.BadInput, run.ExitCode);
        Assert.Contains(message, run.Error);
    }

    [Fact]
    public async Task Missing_training_folder_is_named()
    {
        using var work = TestData.NewTemporaryFolder();
        var run = await Train(work, Options(work, "train:\n  iterations: 2\n", train: work.File("no-such-folder")));
        Assert.Equal(SrMobileCommand.BadInput, run.ExitCode);
        Assert.Contains(work.File("no-such-folder"), run.Error);
    }

    [Fact]
    public async Task Mismatched_pair_is_named()
    {
        using var work = TestData.NewTemporaryFolder();
        Directory.CreateDirectory(work.File("lr"));
        Directory.CreateDirectory(work.File("hr"));
        File.Copy(Path.Combine(TestData.Benchmark("Set5"), "baby.png"), work.File("hr/baby.png"));
        File.Copy(Path.Combine(TestData.Benchmark("Set5"), "bird.png"), work.File("lr/babyx3.png")); // 288 px, not 512/3
        File.WriteAllText(work.File("options.yaml"), $"""
            datasets:
              train: {"{"}mode: paired, dataroot_LR: {work.File("lr")}, dataroot_HR: {work.File("hr")}{"}"}
            train: {"{"}iterations: 2{"}"}
            """);
        var run = await Train(work, work.File("options.yaml"));
        Assert.Equal(SrMobileCommand.BadInput, run.ExitCode);
        Assert.Contains("does not match HR", run.Error);
        Assert.Contains(work.File("lr/babyx3.png"), run.Error);
    }

    [Fact]
    public async Task Train_then_test_the_model_and_refuse_the_same_name_again()
    {
        using var work = TestData.NewTemporaryFolder();
        var options = Options(work, "train:\n  iterations: 20\n  batch_size: 2\n  patch_size: 16\n  validate_every: 0\n");
        var run = await Train(work, options);
        Assert.True(run.ExitCode == 0, run.Error);
        var checkpoint = Path.Combine(work.Path, "experiment", "run", "checkpoints", "best.ckpt");
        Assert.True(File.Exists(checkpoint));
        Assert.True(File.Exists(Path.Combine(work.Path, "log", "run.log")));
        Assert.True(File.Exists(Path.Combine(work.Path, "experiment", "run", "records", "train.csv")));

        var again = await Train(work, options);
        Assert.Equal(SrMobileCommand.BadInput, again.ExitCode);
        Assert.Contains("--resume", again.Error);

        var test = await CliRunner.Run("test", "--dataset", TestData.Benchmark("Set5"), "--scale", "3", "--model", checkpoint, "--json");
        Assert.True(test.ExitCode == 0, test.Error);
        var root = JsonDocument.Parse(test.Out).RootElement;
        Assert.Equal("best", root.GetProperty("method").GetString());
        Assert.Equal(5, root.GetProperty("images").GetArrayLength());
        Assert.Equal(5, root.GetProperty("bicubic").GetProperty("images").GetArrayLength());

        var wrongScale = await CliRunner.Run("test", "--dataset", TestData.Benchmark("Set5"), "--scale", "2", "--model", checkpoint);
        Assert.Equal(SrMobileCommand.BadInput, wrongScale.ExitCode);
        Assert.Contains("model is x3", wrongScale.Error);
    }
}
