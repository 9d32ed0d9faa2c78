using System.Text.Json;
using SrMobile.Engine.Imaging;
using SrMobile.Tests;

namespace SrMobile.Cli.Tests;

public class TestCommandTests
{
    [Fact]
    public async Task Bicubic_json_has_the_documented_shape_and_the_published_mean()
    {
        var run = await CliRunner.Run("test", "--dataset", TestData.Benchmark("Set5"), "--scale", "3", "--bicubic", "--json");
        Assert.Equal(0, run.ExitCode);
        using var document = JsonDocument.Parse(run.Out);
        var root = document.RootElement;
        Assert.Equal("Set5", root.GetProperty("dataset").GetString());
        Assert.Equal(3, root.GetProperty("scale").GetInt32());
        Assert.Equal("y", root.GetProperty("protocol").GetString());
        Assert.Equal("bicubic", root.GetProperty("method").GetString());
        var images = root.GetProperty("images").EnumerateArray().ToList();
        Assert.Equal(5, images.Count);
        Assert.All(images, i => Assert.InRange(i.GetProperty("ssim").GetDouble(), 0.5, 1.0));
        Assert.Equal("baby", images[0].GetProperty("name").GetString());
        Assert.InRange(root.GetProperty("mean").GetProperty("psnr").GetDouble(), 30.36, 30.42);
        Assert.Contains("test", run.Error); // progress went to stderr, not into the JSON
    }

    [Fact]
    public async Task Rgb_protocol_differs_from_y_and_output_writes_pngs()
    {
        using var work = TestData.NewTemporaryFolder();
        var y = await CliRunner.Run("test", "--dataset", TestData.Benchmark("Set5"), "--scale", "2", "--bicubic", "--json");
        var rgb = await CliRunner.Run("test", "--dataset", TestData.Benchmark("Set5"), "--scale", "2", "--bicubic", "--json", "--protocol", "rgb", "--output", work.Path);
        Assert.Equal(0, rgb.ExitCode);
        double Mean(CliRun run) => JsonDocument.Parse(run.Out).RootElement.GetProperty("mean").GetProperty("psnr").GetDouble();
        Assert.NotEqual(Mean(y), Mean(rgb), 1);
        var written = Directory.GetFiles(work.Path, "*.png");
        Assert.Equal(5, written.Length);
        var baby = ImageFile.Read(written.Single(f => Path.GetFileName(f).StartsWith("baby", StringComparison.Ordinal)));
        Assert.Equal((512, 512), (baby.Width, baby.Height));
    }

    [Fact]
    public async Task Scale_outside_2_3_4_is_rejected()
    {
        var run = await CliRunner.Run("test", "--dataset", TestData.Benchmark("Set5"), "--scale", "5", "--bicubic");
        Assert.Equal(SrMobileCommand.BadInput, run.ExitCode);
        Assert.Contains("--scale must be 2, 3 or 4, not 5", run.Error);
    }

    [Fact]
    public async Task Model_and_bicubic_are_exclusive_and_one_is_needed()
    {
        var run = await CliRunner.Run("test", "--dataset", TestData.Benchmark("Set5"), "--scale", "3");
        Assert.Equal(SrMobileCommand.BadInput, run.ExitCode);
        Assert.Contains("--model", run.Error);
    }

    [Fact]
    public async Task Missing_and_empty_dataset_folders_are_named()
    {
        using var work = TestData.NewTemporaryFolder();
        var missing = await CliRunner.Run("test", "--dataset", work.File("nope"), "--scale", "3", "--bicubic");
        Assert.Equal(SrMobileCommand.BadInput, missing.ExitCode);
        Assert.Contains(work.File("nope"), missing.Error);
        Assert.Contains("does not exist", missing.Error);
        var empty = await CliRunner.Run("test", "--dataset", work.Path, "--scale", "3", "--bicubic");
        Assert.Equal(SrMobileCommand.BadInput, empty.ExitCode);
        Assert.Contains("no PNG, JPEG, BMP or WebP images", empty.Error);
    }

    [Fact]
    public async Task A_corrupt_image_is_named()
    {
        using var work = TestData.NewTemporaryFolder();
        File.Copy(Path.Combine(TestData.Benchmark("Set5"), "bird.png"), work.File("bird.png"));
        var truncated = File.ReadAllBytes(Path.Combine(TestData.Benchmark("Set5"), "baby.png"));
        File.WriteAllBytes(work.File("baby.png"), truncated[..(truncated.Length / 3)]);
        var run = await CliRunner.Run("test", "--dataset", work.Path, "--scale", "3", "--bicubic");
        Assert.Equal(SrMobileCommand.BadInput, run.ExitCode);
        Assert.Contains(work.File("baby.png"), run.Error);
    }

    [Fact]
    public async Task A_truncated_checkpoint_is_named()
    {
        using var work = TestData.NewTemporaryFolder();
        File.WriteAllBytes(work.File("model.ckpt"), "SRMCKPT1 but then nothing useful at all, not even a hash"u8.ToArray());
        var run = await CliRunner.Run("test", "--dataset", TestData.Benchmark("Set5"), "--scale", "3", "--model", work.File("model.ckpt"));
        Assert.Equal(SrMobileCommand.BadInput, run.ExitCode);
        Assert.Contains(work.File("model.ckpt"), run.Error);
        Assert.Contains("truncated or corrupt", run.Error);
    }
}
