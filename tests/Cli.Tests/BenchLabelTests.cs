using SrMobile.Cli.Commands;
using SrMobile.Tests;

namespace SrMobile.Cli.Tests;

public class BenchLabelTests
{
    [Fact]
    public void One_model_keeps_its_file_name_and_models_of_one_name_get_the_shortest_path_that_tells_them_apart()
    {
        Assert.Equal(["model.int8.onnx"], BenchCommand.Labels(["/runs/a/model.int8.onnx"]));
        Assert.Equal(["m.onnx", "m.int8.onnx"], BenchCommand.Labels(["/runs/a/m.onnx", "/runs/a/m.int8.onnx"]));
        Assert.Equal(["a/model.int8.onnx", "b/model.int8.onnx"], BenchCommand.Labels(["/runs/a/model.int8.onnx", "/runs/b/model.int8.onnx"]));
        Assert.Equal(["x/a/model.onnx", "y/a/model.onnx", "other.onnx"], BenchCommand.Labels(["/x/a/model.onnx", "/y/a/model.onnx", "/x/a/other.onnx"]));
        Assert.Equal(["/a/model.onnx", "x/a/model.onnx"], BenchCommand.Labels(["/a/model.onnx", "/x/a/model.onnx"]));
        Assert.Equal(["model.onnx", "model.onnx (2)"], BenchCommand.Labels(["/runs/a/model.onnx", "/runs/a/../a/model.onnx"]));
    }

    [Fact]
    public async Task Bench_rows_of_two_models_with_the_same_file_name_say_which_is_which()
    {
        using var work = TestData.NewTemporaryFolder();
        foreach (var (folder, width) in new[] { ("a", "4"), ("b", "8") })
        {
            var export = await CliRunner.Run("export", "--random-weights", "--depth", "1", "--width", width, "--out", work.File(Path.Combine(folder, "model.int8.onnx")));
            Assert.True(export.ExitCode == 0, export.Error);
        }
        var bench = await CliRunner.Run("bench", "--onnx", work.File("a/model.int8.onnx"), "--onnx", work.File("b/model.int8.onnx"),
            "--input", "8x8", "--warmup", "0", "--min-runs", "2", "--min-seconds", "0");
        Assert.True(bench.ExitCode == 0, bench.Error);
        var lines = bench.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines, l => l.StartsWith("a/model.int8.onnx ", StringComparison.Ordinal));
        Assert.Single(lines, l => l.StartsWith("b/model.int8.onnx ", StringComparison.Ordinal));
        Assert.Contains("median ratio b/model.int8.onnx / a/model.int8.onnx:", bench.Out);
    }

    [Fact]
    public async Task Bench_measures_each_model_with_each_fit_and_labels_the_rows_with_what_each_graph_got()
    {
        using var work = TestData.NewTemporaryFolder();
        var quantize = await CliRunner.Run("quantize", "--random-weights", "--scale", "2", "--depth", "1", "--width", "6", "--out", work.File("m.int8.onnx"));
        Assert.True(quantize.ExitCode == 0, quantize.Error);
        var export = await CliRunner.Run("export", "--random-weights", "--scale", "2", "--depth", "1", "--width", "6", "--out", work.File("m.onnx"));
        Assert.True(export.ExitCode == 0, export.Error);

        var bench = await CliRunner.Run("bench", "--onnx", work.File("m.int8.onnx"), "--onnx", work.File("m.onnx"), "--fit", "none", "--fit", "pad,shuffle",
            "--input", "8x8", "--warmup", "0", "--min-runs", "2", "--min-seconds", "0");

        Assert.True(bench.ExitCode == 0, bench.Error);
        var rows = bench.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("m.", StringComparison.Ordinal)).Select(l => l[..l.IndexOf(']')]).ToList();
        // The float graph has nothing to pad: its row says it got the shuffle only.
        Assert.Equal(["m.int8.onnx [fit none", "m.int8.onnx [fit pad,shuffle", "m.onnx [fit none", "m.onnx [fit shuffle"], rows);

        var wrong = await CliRunner.Run("bench", "--onnx", work.File("m.int8.onnx"), "--fit", "pad,fold");
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.Contains("--fit: 'fold' is not one of none, host, pad, shuffle", wrong.Error);
    }
}
