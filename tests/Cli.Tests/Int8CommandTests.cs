using System.Text.Json;
using SrMobile.Tests;

namespace SrMobile.Cli.Tests;

public class Int8CommandTests
{
    [Fact]
    public async Task Random_weights_export_quantize_test_and_bench()
    {
        using var work = TestData.NewTemporaryFolder();
        var export = await CliRunner.Run("export", "--random-weights", "--scale", "3", "--depth", "2", "--width", "8", "--out", work.File("m.onnx"));
        Assert.True(export.ExitCode == 0, export.Error);
        var quantize = await CliRunner.Run("quantize", "--random-weights", "--scale", "3", "--depth", "2", "--width", "8", "--images", "2", "--out", work.File("m.int8.onnx"));
        Assert.True(quantize.ExitCode == 0, quantize.Error);
        Assert.Contains("conv3 output range", quantize.Error);

        var test = await CliRunner.Run("test", "--dataset", TestData.Benchmark("Set5"), "--scale", "3", "--onnx", work.File("m.int8.onnx"), "--json");
        Assert.True(test.ExitCode == 0, test.Error);
        var report = JsonDocument.Parse(test.Out).RootElement;
        Assert.Equal("m.int8", report.GetProperty("method").GetString());
        Assert.Equal(5, report.GetProperty("images").GetArrayLength());

        var bench = await CliRunner.Run("bench", "--onnx", work.File("m.onnx"), "--onnx", work.File("m.int8.onnx"), "--input", "36x64",
            "--warmup", "1", "--min-runs", "3", "--min-seconds", "0", "--json");
        Assert.True(bench.ExitCode == 0, bench.Error);
        var results = JsonDocument.Parse(bench.Out).RootElement.EnumerateArray().ToList();
        Assert.Equal(2, results.Count);
        foreach (var result in results)
        {
            foreach (var key in new[] { "median_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "min_ms" })
                Assert.True(result.GetProperty(key).GetDouble() > 0, key);
            Assert.True(result.GetProperty("runs").GetInt32() >= 3);
            Assert.Equal(1, result.GetProperty("threads").GetInt32());
            Assert.StartsWith("onnxruntime ", result.GetProperty("engine").GetString());
            Assert.Equal("cpu", result.GetProperty("provider").GetString());
        }
    }

    [Fact]
    public async Task A_corrupt_onnx_file_is_named()
    {
        using var work = TestData.NewTemporaryFolder();
        File.WriteAllBytes(work.File("bad.onnx"), [0x08, 0x07, 0x12, 0xff, 0xff, 0x01]);
        var run = await CliRunner.Run("test", "--dataset", TestData.Benchmark("Set5"), "--scale", "3", "--onnx", work.File("bad.onnx"));
        Assert.Equal(SrMobileCommand.BadInput, run.ExitCode);
        Assert.Contains(work.File("bad.onnx"), run.Error);
    }

    [Fact]
    public async Task A_truncated_onnx_file_is_named()
    {
        using var work = TestData.NewTemporaryFolder();
        await CliRunner.Run("export", "--random-weights", "--depth", "1", "--width", "4", "--out", work.File("m.onnx"));
        var bytes = File.ReadAllBytes(work.File("m.onnx"));
        File.WriteAllBytes(work.File("cut.onnx"), bytes[..(bytes.Length * 2 / 3)]);
        var run = await CliRunner.Run("bench", "--onnx", work.File("cut.onnx"), "--input", "8x8", "--min-runs", "1", "--min-seconds", "0");
        Assert.Equal(SrMobileCommand.BadInput, run.ExitCode);
        Assert.Contains(work.File("cut.onnx"), run.Error);
    }

    [Fact]
    public async Task A_calibration_folder_without_images_is_named()
    {
        using var work = TestData.NewTemporaryFolder();
        Directory.CreateDirectory(work.File("empty"));
        var run = await CliRunner.Run("quantize", "--random-weights", "--calib", work.File("empty"), "--out", work.File("m.int8.onnx"));
        Assert.Equal(SrMobileCommand.BadInput, run.ExitCode);
        Assert.Contains(work.File("empty"), run.Error);
        Assert.False(File.Exists(work.File("m.int8.onnx")));
    }
}
