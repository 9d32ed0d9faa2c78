using System.CommandLine;
using SrMobile.Engine.Evaluation;
using SrMobile.Engine.Metrics;
using SrMobile.Engine.Models;
using SrMobile.Training.Data;
using SrMobile.Training.Network;
using SrMobile.Training.Trainer;

namespace SrMobile.Cli.Commands;

/// <summary>
/// <c>srmobile demo</c>: trains a small ABPN ×3 on the bundled photos for a few minutes and tests it against bicubic
/// on the held-out bundled photos. Rerunning resumes an unfinished demo and re-tests a finished one.
/// </summary>
public static class DemoCommand
{
    public const string RunName = "demo";

    public static TrainingOptions Recipe(long iterations) => new()
    {
        Scale = 3,
        Depth = 4,
        Width = 28,
        Train = new HighOnlyFolderSource(SrMobileCommand.Bundled(Path.Combine("samples", "train"))),
        Validation = new HighOnlyFolderSource(SrMobileCommand.Bundled(Path.Combine("samples", "test"))),
        Iterations = iterations,
        IterationsPerEpoch = 500,
        BatchSize = 16,
        PatchSize = 48,
        LearningRate = 1e-3,
        LearningRateMilestones = [(long)(iterations * 0.6), (long)(iterations * 0.85)],
        ValidateEvery = 500,
        LogEvery = 50,
    };

    public static Command Create(CliConsole console)
    {
        var iterations = new Option<long>("--iterations") { Description = "Training steps (default 1500: a few minutes on 2 cores)", DefaultValueFactory = _ => 1500 };
        var workdir = new Option<DirectoryInfo?>("--workdir") { Description = "Folder for log/ and experiment/demo (default: current)" };
        var fresh = new Option<bool>("--fresh") { Description = "Delete experiment/demo first and train from scratch" };
        var command = new Command("demo", "Train a small ABPN x3 on the bundled photos and test it against bicubic.") { iterations, workdir, fresh };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () =>
        {
            var paths = new ExperimentPaths(parse.GetValue(workdir)?.FullName ?? Directory.GetCurrentDirectory(), RunName);
            if (parse.GetValue(fresh) && paths.Exists)
                Directory.Delete(paths.Folder, recursive: true);
            var options = Recipe(parse.GetValue(iterations));
            var done = File.Exists(paths.LastCheckpoint) && AbpnCheckpoint.Load(paths.LastCheckpoint).Metadata.Iteration >= options.Iterations;
            if (done)
            {
                console.Error.WriteLine($"{paths.Folder} is already trained to {options.Iterations} iterations; testing it (--fresh retrains)");
            }
            else
            {
                console.Error.WriteLine($"training {options.Architecture} on {options.Train.Describe()} for {options.Iterations} iterations");
                var result = TrainCommand.Run(console, options, paths, resume: paths.Exists, cancellation);
                if (result.StopReason == "cancelled")
                    return Task.FromResult(SrMobileCommand.Cancelled);
            }

            using var network = AbpnNetwork.FromCheckpoint(AbpnCheckpoint.Load(paths.BestCheckpoint));
            network.eval();
            var report = DatasetEvaluation.Run(SrMobileCommand.Bundled(Path.Combine("samples", "test")), 3, ProtocolKind.Y, "abpn",
                low => SuperResolver.Upscale(network, low), Path.Combine(paths.Folder, "results"));
            TestCommand.PrintTable(console.Out, report);
            console.Out.WriteLine($"SR images: {Path.Combine(paths.Folder, "results")}");
            return Task.FromResult(0);
        }));
        return command;
    }
}
