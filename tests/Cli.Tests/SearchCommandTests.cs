using SrMobile.Tests;

namespace SrMobile.Cli.Tests;

public class SearchCommandTests
{
    [Fact]
    public async Task Search_run_finishes_a_small_grid_prints_the_front_and_resumes_when_run_again()
    {
        using var work = TestData.NewTemporaryFolder();
        var spec = work.File("spec.yaml");
        File.WriteAllText(spec, $$"""
            name: cli-grid
            scales: [3]
            depths: [1]
            widths: [4, 8]
            quantization: [{kind: ptq, calibration_images: 2}]
            training: {iterations: 30, batch_size: 4, patch_size: 24, lr: 2.0e-3}
            datasets: {train: "{{TestData.Samples}}", validation: "{{Path.Combine(TestData.RepositoryRoot, "samples", "test")}}"}
            devices: [local]
            protocol: {input: 36x64, warmup: 1, min_runs: 3, min_seconds: 0}
            """);
        // The samples are in the repository, not beside the test's program or in its working folder.
        var first = await CliRunner.Run("search", "run", "--no-dashboard", spec, "--workdir", work.File("state"), "--threads", "1", "--data-root", TestData.RepositoryRoot);
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Contains("Pareto front x3 on local", first.Out);
        Assert.Contains("cli-grid/x3-m1-c", first.Out);
        Assert.Contains("2 candidates", first.Error);

        var again = await CliRunner.Run("search", "run", "--no-dashboard", spec, "--workdir", work.File("state"), "--threads", "1", "--data-root", TestData.RepositoryRoot);
        Assert.True(again.ExitCode == 0, again.Error);
        Assert.Contains("resumes", again.Error);
        Assert.Equal(first.Out, again.Out);
    }

    [Fact]
    public async Task An_invalid_spec_lists_every_problem_and_starts_nothing()
    {
        using var work = TestData.NewTemporaryFolder();
        File.WriteAllText(work.File("bad.yaml"), "name: x\nscales: [7]\ndepths: [1]\nwidths: [0]\nquantization: [{kind: ptq}]\ndatasets: {train: t}\ndevices: [local]\n");
        var run = await CliRunner.Run("search", "run", "--no-dashboard", work.File("bad.yaml"), "--workdir", work.File("state"));
        Assert.Equal(SrMobileCommand.BadInput, run.ExitCode);
        Assert.Contains("scales[0]: 7 must be 2, 3 or 4", run.Error);
        Assert.Contains("widths[0]: 0 must be at least 1", run.Error);
        Assert.False(Directory.Exists(work.File("state")));
    }

    [Fact]
    public async Task A_dataset_outside_the_data_roots_is_refused_naming_the_field_and_the_roots_and_starts_nothing()
    {
        using var work = TestData.NewTemporaryFolder();
        File.WriteAllText(work.File("spec.yaml"), $"name: x\nscales: [3]\ndepths: [1]\nwidths: [4]\nquantization: [{{kind: ptq}}]\ndatasets: {{train: \"{work.File("photos")}\"}}\ndevices: [local]\n");
        var run = await CliRunner.Run("search", "run", "--no-dashboard", work.File("spec.yaml"), "--workdir", work.File("state"));
        Assert.Equal(SrMobileCommand.BadInput, run.ExitCode);
        Assert.Contains($"datasets.train: '{work.File("photos")}' ({work.File("photos")}) is outside every data root (", run.Error);
        Assert.Contains(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory), run.Error);
        Assert.Contains("SrMobile:DataRoots", run.Error);
        Assert.False(Directory.Exists(work.File("state")));

        // Named as a data root, the same spec is accepted (its missing folder then fails the candidate, not the submit).
        var allowed = await CliRunner.Run("search", "run", "--no-dashboard", work.File("spec.yaml"), "--workdir", work.File("state"), "--threads", "1", "--data-root", work.Path);
        Assert.DoesNotContain("outside every data root", allowed.Error);
        Assert.Contains("1 candidates", allowed.Error);
    }
}
