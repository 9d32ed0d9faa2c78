using SrMobile.Engine;
using SrMobile.Engine.Imaging;
using SrMobile.Engine.Metrics;
using SrMobile.Engine.Models;
using SrMobile.Tests;
using SrMobile.Training.Data;
using SrMobile.Training.Trainer;

namespace SrMobile.Training.Tests;

public class TrainerTests
{
    private static TrainingOptions Tiny(long iterations, int validateEvery) => new()
    {
        Scale = 3,
        Depth = 2,
        Width = 12,
        Train = new HighOnlyFolderSource(Path.Combine(TestData.Samples)),
        Validation = new HighOnlyFolderSource(Path.Combine(TestData.RepositoryRoot, "samples", "test")),
        Iterations = iterations,
        IterationsPerEpoch = 50,
        BatchSize = 8,
        PatchSize = 24,
        LearningRate = 2e-3,
        LearningRateMilestones = [240],
        ValidateEvery = validateEvery,
        LogEvery = 10,
        Threads = 1,
        Seed = 7,
    };

    [Fact]
    public void Training_moves_clearly_beyond_the_anchor()
    {
        using var work = TestData.NewTemporaryFolder();
        var options = Tiny(300, 0);
        var result = new AbpnTrainer(options, new ExperimentPaths(work.Path, "beyond"), new DatasetLoader(work.File("cache"))).Run(resume: false);

        // The anchor alone (all-zero residual) is nearest-neighbour upscaling of the LR image.
        var pairs = new DatasetLoader(work.File("cache")).Load(options.Validation!, 3);
        var anchor = pairs.Average(p => EvaluationProtocol.Standard(3).Score(NearestNeighbour(p.Low, 3), p.High).Psnr);
        var bicubic = pairs.Average(p => EvaluationProtocol.Standard(3).Score(MatlabResize.Upscale(p.Low, 3), p.High).Psnr);
        var trained = result.LastValidation![Metrics.PsnrY];
        Assert.True(trained > anchor + 1.5, $"trained {trained:F2} dB, anchor {anchor:F2} dB, bicubic {bicubic:F2} dB");
        Assert.True(File.Exists(new ExperimentPaths(work.Path, "beyond").BestCheckpoint));
    }

    [Fact]
    public void Resume_continues_exactly_where_the_checkpoint_left_off()
    {
        using var work = TestData.NewTemporaryFolder();
        var loader = new DatasetLoader(work.File("cache"));
        var straight = new ExperimentPaths(work.Path, "straight");
        new AbpnTrainer(Tiny(40, 20), straight, loader).Run(resume: false);

        var split = new ExperimentPaths(work.Path, "split");
        new AbpnTrainer(Tiny(20, 20), split, loader).Run(resume: false);
        var resumed = new AbpnTrainer(Tiny(40, 20), split, loader).Run(resume: true);
        Assert.Equal(40, resumed.Iteration);

        var a = AbpnCheckpoint.Load(straight.LastCheckpoint);
        var b = AbpnCheckpoint.Load(split.LastCheckpoint);
        Assert.Equal(40, b.Metadata.Iteration);
        foreach (var tensor in a.Parameters)
            Assert.Equal(tensor.Values, b[tensor.Name].Values);
        Assert.Equal(a.OptimizerState, b.OptimizerState);
        // The record has each logged iteration once, as an uninterrupted run would.
        var iterations = File.ReadAllLines(split.Record).Skip(1).Where(l => l.Split(',')[3] != "").Select(l => l.Split(',')[0]).ToList();
        Assert.Equal(iterations.Distinct().Count(), iterations.Count);
        Assert.Equal(4, iterations.Count);
    }

    [Fact]
    public void An_existing_name_is_refused_without_resume_and_nothing_is_overwritten()
    {
        using var work = TestData.NewTemporaryFolder();
        var loader = new DatasetLoader(work.File("cache"));
        var paths = new ExperimentPaths(work.Path, "taken");
        new AbpnTrainer(Tiny(10, 0), paths, loader).Run(resume: false);
        var before = File.ReadAllBytes(paths.LastCheckpoint);
        var error = Assert.Throws<BadInputException>(() => new AbpnTrainer(Tiny(10, 0), paths, loader).Run(resume: false));
        Assert.Contains("--resume", error.Message);
        Assert.Equal(before, File.ReadAllBytes(paths.LastCheckpoint));
    }

    [Fact]
    public void Resume_with_another_recipe_is_refused()
    {
        using var work = TestData.NewTemporaryFolder();
        var loader = new DatasetLoader(work.File("cache"));
        var paths = new ExperimentPaths(work.Path, "recipe");
        new AbpnTrainer(Tiny(10, 0), paths, loader).Run(resume: false);
        var error = Assert.Throws<BadInputException>(() => new AbpnTrainer(Tiny(20, 0) with { BatchSize = 4 }, paths, loader).Run(resume: true));
        Assert.Contains("options differ", error.Message);
    }

    [Fact]
    public void Cancelling_keeps_a_loadable_checkpoint()
    {
        using var work = TestData.NewTemporaryFolder();
        var paths = new ExperimentPaths(work.Path, "cancel");
        using var cancel = new CancellationTokenSource();
        var progress = new InlineProgress<TrainingProgress>(p =>
        {
            if (p.Iteration == 15)
                cancel.Cancel();
        });
        var result = new AbpnTrainer(Tiny(1000, 0), paths, new DatasetLoader(work.File("cache"))).Run(false, progress, cancel.Token);
        Assert.Equal("cancelled", result.StopReason);
        Assert.Equal(15, AbpnCheckpoint.Load(paths.LastCheckpoint).Metadata.Iteration);
    }

    [Fact]
    public void Learning_rate_halves_at_each_milestone()
    {
        var options = Tiny(100, 0) with { LearningRate = 1e-3, LearningRateMilestones = [10, 20] };
        Assert.Equal(1e-3, options.LearningRateAt(9));
        Assert.Equal(5e-4, options.LearningRateAt(10));
        Assert.Equal(2.5e-4, options.LearningRateAt(25));
    }

    private static Image8 NearestNeighbour(Image8 low, int scale)
    {
        var result = new Image8(low.Width * scale, low.Height * scale, low.Channels);
        for (var y = 0; y < result.Height; y++)
            for (var x = 0; x < result.Width; x++)
                for (var c = 0; c < low.Channels; c++)
                    result[y, x, c] = low[y / scale, x / scale, c];
        return result;
    }
}
