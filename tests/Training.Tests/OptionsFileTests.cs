using SrMobile.Training.Options;

namespace SrMobile.Training.Tests;

public class OptionsFileTests
{
    private const string Minimal = "datasets:\n  train: {mode: hr, dataroot_HR: photos}\n";

    [Fact]
    public void Defaults_are_the_seed_recipe_in_epochs()
    {
        var options = TrainingOptionsFile.Read(YamlOptions.Parse(Minimal + "train:\n  iterations_per_epoch: 500\n", "a.yaml"));
        Assert.Equal(300_000, options.Iterations);
        Assert.Equal(new long[] { 60_000, 120_000, 180_000, 240_000 }, options.LearningRateMilestones);
        Assert.Equal(1e-3, options.LearningRate);
        Assert.Equal((16, 64), (options.BatchSize, options.PatchSize));
    }

    [Fact]
    public void Qat_defaults_are_the_seed_qat_schedule_and_the_file_still_wins()
    {
        var qat = TrainingOptionsFile.Read(YamlOptions.Parse(Minimal, "a.yaml"), qat: true);
        Assert.Equal(1e-4, qat.LearningRate);
        Assert.Equal(220_000, qat.Iterations);
        Assert.Equal(new long[] { 50_000, 100_000, 150_000, 200_000 }, qat.LearningRateMilestones);
        var overridden = TrainingOptionsFile.Read(YamlOptions.Parse(Minimal + "train:\n  lr: 2.0e-4\n", "a.yaml"), qat: true);
        Assert.Equal(2e-4, overridden.LearningRate);
    }

    [Fact]
    public void Epochs_and_iterations_together_are_refused()
    {
        var error = Assert.Throws<Engine.BadInputException>(() =>
            TrainingOptionsFile.Read(YamlOptions.Parse(Minimal + "train:\n  epochs: 2\n  iterations: 5\n", "a.yaml")));
        Assert.Contains("train.iterations: give either epochs or iterations", error.Message);
    }
}
