using SrMobile.Training.Data;
using SrMobile.Training.Trainer;

namespace SrMobile.Training.Options;

/// <summary>
/// Training options files in the spirit of the seed's <c>options/train/*.yaml</c> (see <c>options/train/</c>):
/// <c>scale</c>, <c>network</c> (depth, width), <c>datasets</c> (train, val) and <c>train</c> (the recipe, with
/// epochs and lr milestones in epochs as the seed writes them). Relative paths are taken from the working folder.
/// </summary>
public static class TrainingOptionsFile
{
    /// <param name="path">The YAML file.</param>
    /// <param name="qat">Take the seed's QAT schedule as the defaults for what the file leaves out.</param>
    public static TrainingOptions Load(string path, bool qat = false) => Read(YamlOptions.Load(path), qat);

    public static TrainingOptions Read(YamlOptions yaml, bool qat = false)
    {
        var defaults = new TrainingOptions { Train = new HighOnlyFolderSource(".") };
        var network = yaml.Section("network");
        var datasets = yaml.Section("datasets") ?? throw yaml.Fail("datasets", "is required (datasets.train, optionally datasets.val)");
        var train = yaml.Section("train");

        var perEpoch = train?.Int("iterations_per_epoch") ?? defaults.IterationsPerEpoch;
        if (perEpoch < 1)
            throw train!.Fail("iterations_per_epoch", $"must be at least 1, not {perEpoch}");
        // The seed's schedules are in epochs: keep them in epochs when an epoch is not 1000 iterations.
        defaults = defaults with
        {
            IterationsPerEpoch = perEpoch,
            Iterations = 600L * perEpoch,
            LearningRateMilestones = [120L * perEpoch, 240L * perEpoch, 360L * perEpoch, 480L * perEpoch],
        };
        if (qat)
            defaults = defaults.WithQatSchedule();
        var epochs = train?.Double("epochs");
        var iterations = train?.Long("iterations");
        if (epochs is not null && iterations is not null)
            throw train!.Fail("iterations", "give either epochs or iterations, not both");
        var milestones = train?.Doubles("lr_milestones");

        var options = defaults with
        {
            Scale = yaml.Int("scale") ?? defaults.Scale,
            Depth = network?.Int("depth") ?? defaults.Depth,
            Width = network?.Int("width") ?? defaults.Width,
            Train = Source(datasets.Section("train") ?? throw datasets.Fail("train", "is required")),
            Validation = datasets.Section("val") is { } val ? Source(val) : null,
            IterationsPerEpoch = perEpoch,
            Iterations = iterations ?? (epochs is { } e ? (long)Math.Round(e * perEpoch) : defaults.Iterations),
            BatchSize = train?.Int("batch_size") ?? defaults.BatchSize,
            PatchSize = train?.Int("patch_size") ?? defaults.PatchSize,
            LearningRate = train?.Double("lr") ?? defaults.LearningRate,
            Beta1 = train?.Double("beta1") ?? defaults.Beta1,
            Beta2 = train?.Double("beta2") ?? defaults.Beta2,
            Epsilon = train?.Double("epsilon") ?? defaults.Epsilon,
            LearningRateMilestones = milestones?.Select(m => (long)Math.Round(m * perEpoch)).ToList() ?? defaults.LearningRateMilestones,
            LearningRateGamma = train?.Double("lr_gamma") ?? defaults.LearningRateGamma,
            WarmupIterations = train?.Int("warmup") ?? defaults.WarmupIterations,
            InputScale = train?.Double("input_scale") ?? defaults.InputScale,
            ResidualScale = train?.Double("residual_scale") ?? defaults.ResidualScale,
            ValidateEvery = train?.Int("validate_every") ?? defaults.ValidateEvery,
            LogEvery = train?.Int("log_every") ?? defaults.LogEvery,
            BestMetric = train?.String("best_metric") ?? defaults.BestMetric,
            Augment = train?.Bool("augment") ?? defaults.Augment,
            Seed = train?.Int("seed") ?? defaults.Seed,
            Threads = train?.Int("threads") ?? defaults.Threads,
            MaxMinutes = train?.Double("max_minutes"),
            QatActivations = train?.String("qat_activations") ?? defaults.QatActivations,
            QatObserveIterations = train?.Int("qat_observe_iterations") ?? defaults.QatObserveIterations,
        };
        yaml.RejectUnknownKeys();
        return options;
    }

    private static DatasetSource Source(YamlOptions section)
    {
        var mode = section.String("mode") ?? throw section.Fail("mode", "is required: div2k, paired or hr");
        switch (mode)
        {
            case "div2k":
                var root = Required(section, "dataroot");
                var range = section.Doubles("range");
                if (range is not null && (range.Count != 2 || range.Any(v => v != Math.Floor(v) || v < 1)))
                    throw section.Fail("range", "expected [first, last] image numbers, e.g. [801, 900]");
                return new Div2kSource(root,
                    range is null ? 1 : (int)range[0],
                    range is null ? 800 : (int)range[1],
                    section.String("hr_folder") ?? Div2kSource.DefaultHighFolder,
                    section.String("lr_folder") ?? Div2kSource.DefaultLowFolder);
            case "paired":
                return new PairedFolderSource(Required(section, "dataroot_LR"), Required(section, "dataroot_HR"));
            case "hr":
                return new HighOnlyFolderSource(Required(section, "dataroot_HR"));
            default:
                throw section.Fail("mode", $"must be div2k, paired or hr, not '{mode}'");
        }
    }

    private static string Required(YamlOptions section, string key) =>
        section.String(key) ?? throw section.Fail(key, "is required");
}
