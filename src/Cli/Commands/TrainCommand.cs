using System.CommandLine;
using System.Globalization;
using SrMobile.Training;
using SrMobile.Training.Data;
using SrMobile.Training.Options;
using SrMobile.Training.Trainer;

namespace SrMobile.Cli.Commands;

/// <summary><c>srmobile train --opt options.yaml --name NAME [overrides]</c>, as the seed's <c>train.py</c>.</summary>
public static class TrainCommand
{
    public static Command Create(CliConsole console)
    {
        var opt = new Option<FileInfo>("--opt") { Description = "Options file (YAML), e.g. options/train/abpn_x3.yaml", Required = true };
        var name = new Option<string>("--name") { Description = "Run name: log/{name}.log, experiment/{name}/", Required = true };
        var scale = new Option<int?>("--scale") { Description = "Upscaling factor: 2, 3 or 4" };
        var depth = new Option<int?>("--depth") { Description = "Body convolutions m (≥ 1)" };
        var width = new Option<int?>("--width") { Description = "Feature channels C (≥ 1)" };
        var lr = new Option<double?>("--lr") { Description = "Initial learning rate" };
        var batch = new Option<int?>("--bs") { Description = "Batch size" };
        var patch = new Option<int?>("--ps") { Description = "LR patch size" };
        var iterations = new Option<long?>("--iterations") { Description = "Total training iterations" };
        var seed = new Option<int?>("--seed") { Description = "Random seed" };
        var threads = new Option<int?>("--threads") { Description = "CPU threads (0 = all)" };
        var validateEvery = new Option<int?>("--validate-every") { Description = "Validate and checkpoint every N iterations" };
        var maxMinutes = new Option<double?>("--max-minutes") { Description = "Stop (with checkpoint) after this much wall time" };
        var resume = new Option<bool>("--resume") { Description = "Continue experiment/{name} from its last checkpoint" };
        var workdir = new Option<DirectoryInfo?>("--workdir") { Description = "Folder holding log/ and experiment/ (default: current)" };
        var qat = new Option<bool>("--qat") { Description = "Quantization-aware training (fake-quant as the int8 graph) from --from" };
        var from = new Option<FileInfo?>("--from") { Description = "With --qat: the float checkpoint to start from (sets scale, depth, width)" };
        var command = new Command("train", "Train a float ABPN (CUDA when present, CPU threads otherwise).")
        {
            opt, name, scale, depth, width, lr, batch, patch, iterations, seed, threads, validateEvery, maxMinutes, resume, workdir, qat, from,
        };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () =>
        {
            var options = TrainingOptionsFile.Load(parse.GetValue(opt)!.FullName, qat: parse.GetValue(qat));
            options = options with
            {
                Scale = parse.GetValue(scale) ?? options.Scale,
                Depth = parse.GetValue(depth) ?? options.Depth,
                Width = parse.GetValue(width) ?? options.Width,
                LearningRate = parse.GetValue(lr) ?? options.LearningRate,
                BatchSize = parse.GetValue(batch) ?? options.BatchSize,
                PatchSize = parse.GetValue(patch) ?? options.PatchSize,
                Iterations = parse.GetValue(iterations) ?? options.Iterations,
                Seed = parse.GetValue(seed) ?? options.Seed,
                Threads = parse.GetValue(threads) ?? options.Threads,
                ValidateEvery = parse.GetValue(validateEvery) ?? options.ValidateEvery,
                MaxMinutes = parse.GetValue(maxMinutes) ?? options.MaxMinutes,
            };
            if (parse.GetValue(qat) != (parse.GetValue(from) is not null))
                throw new Engine.BadInputException("--qat and --from <float checkpoint> go together");
            if (parse.GetValue(from) is { } source)
            {
                var architecture = Engine.Models.AbpnCheckpoint.Load(source.FullName).Architecture;
                options = options with { QatFrom = source.FullName, Scale = architecture.Scale, Depth = architecture.Depth, Width = architecture.Width };
            }
            SrMobileCommand.CheckScale(options.Scale);
            var runName = parse.GetValue(name)!;
            ExperimentPaths.CheckName(runName);
            var paths = new ExperimentPaths(parse.GetValue(workdir)?.FullName ?? Directory.GetCurrentDirectory(), runName);
            var result = Run(console, options, paths, parse.GetValue(resume), cancellation);
            console.Out.WriteLine($"{result.StopReason} at iteration {result.Iteration}; checkpoints in {Path.GetDirectoryName(paths.LastCheckpoint)}");
            return Task.FromResult(result.StopReason == "cancelled" ? SrMobileCommand.Cancelled : 0);
        }));
        return command;
    }

    /// <summary>Trains with a progress bar (loss, lr, last validation) on stderr.</summary>
    public static TrainingResult Run(CliConsole console, TrainingOptions options, ExperimentPaths paths, bool resume, CancellationToken cancellation)
    {
        var loader = new DatasetLoader(Path.Combine(paths.Root, ".cache"));
        var bar = new ProgressBar(console, paths.Name, options.Iterations);
        var trainer = new AbpnTrainer(options, paths, loader, line => console.Error.WriteLine(line));
        var last = 0L;
        var result = trainer.Run(resume, new InlineProgress<TrainingProgress>(p =>
        {
            last = p.Iteration;
            bar.Report(p.Iteration, Describe(p));
        }), cancellation);
        bar.Finish(Math.Max(last, result.Iteration));
        return result;
    }

    private static string Describe(TrainingProgress p) => string.Create(CultureInfo.InvariantCulture,
        $"loss {p.Loss:F3} lr {p.LearningRate:G3}{(p.LastValidation?.TryGetValue(Metrics.PsnrY, out var psnr) == true ? $" val {psnr:F2} dB" : "")}");
}
