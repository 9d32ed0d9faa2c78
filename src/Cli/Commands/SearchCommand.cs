using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SrMobile.Contracts;
using SrMobile.Engine;
using SrMobile.Grains.Placement;
using SrMobile.Silo;

namespace SrMobile.Cli.Commands;

/// <summary><c>srmobile search run spec.yaml</c>: the whole cluster in this process (every role, durable local state).</summary>
public static class SearchCommand
{
    public static Command Create(CliConsole console)
    {
        var command = new Command("search", "Grid searches on the Orleans cluster.");
        var spec = new Argument<FileInfo>("spec") { Description = "Search spec (YAML or JSON)" };
        var workdir = new Option<DirectoryInfo?>("--workdir") { Description = "State, checkpoints and models (default: .srmobile in the current folder)" };
        var threads = new Option<int>("--threads") { Description = "Trainer threads (0 = all cores)", DefaultValueFactory = _ => 0 };
        var run = new Command("run", "Run a search on an embedded one-machine cluster; run it again to resume.") { spec, workdir, threads };
        run.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, async () =>
        {
            var path = parse.GetValue(spec)!.FullName;
            var text = InputFile.ReadText(path, "search spec");
            var (parsed, errors) = SearchSpecReader.Parse(text);
            if (parsed is null)
                throw new BadInputException($"{path}: the spec has {errors.Count} problem(s):\n  " + string.Join("\n  ", errors));
            var root = parse.GetValue(workdir)?.FullName ?? Path.Combine(Directory.GetCurrentDirectory(), ".srmobile");
            using var host = EmbeddedCluster(root, parse.GetValue(threads));
            await host.StartAsync(cancellation);
            try
            {
                var grains = host.Services.GetRequiredService<IGrainFactory>();
                var search = grains.GetGrain<ISearchGrain>(parsed.Name);
                var submitted = await search.Submit(text);
                if (!submitted.Accepted)
                    throw new BadInputException($"{path}: " + string.Join("; ", submitted.Errors));
                console.Error.WriteLine(submitted.Created
                    ? $"search '{parsed.Name}': {submitted.Candidates} candidates, state in {root}"
                    : $"search '{parsed.Name}' resumes: {submitted.Candidates} candidates, state in {root}");
                await Follow(console, search, submitted.Candidates, cancellation);
                await PrintFronts(console.Out, grains, parsed);
            }
            finally
            {
                await host.StopAsync(CancellationToken.None);
            }
            return 0;
        }));
        command.Subcommands.Add(run);
        return command;
    }

    private static IHost EmbeddedCluster(string root, int threads)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        // Our own warnings show; Orleans' start-up advice (GC mode, the spurious watchdog warning) would bury the progress.
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning)
            .AddFilter("Orleans", LogLevel.Error).AddFilter("Microsoft.Orleans", LogLevel.Error);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SrMobile:Trainer:WorkFolder"] = Path.Combine(root, "work"),
            ["SrMobile:Trainer:Threads"] = threads.ToString(CultureInfo.InvariantCulture),
            ["SrMobile:Trainer:PollInterval"] = "00:00:00.5",
            ["SrMobile:Device:PollInterval"] = "00:00:00.5",
        });
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering();
            silo.AddSrMobileRoles(builder.Configuration, [SiloRoles.Coordinator, SiloRoles.Trainer, SiloRoles.Device], Path.Combine(root, "state"));
        });
        return builder.Build();
    }

    /// <summary>One bar per stage, until every candidate is done, failed or cancelled.</summary>
    private static async Task Follow(CliConsole console, ISearchGrain search, int total, CancellationToken cancellation)
    {
        var bar = new ProgressBar(console, "search", total);
        while (true)
        {
            var status = await search.Status();
            int Count(CandidateStage stage) => status.Stages.GetValueOrDefault(stage);
            var finished = Count(CandidateStage.Done) + Count(CandidateStage.Failed) + Count(CandidateStage.Cancelled);
            bar.Report(finished, $"queued {Count(CandidateStage.Queued)} training {Count(CandidateStage.Training)} quantizing {Count(CandidateStage.Quantizing)} measuring {Count(CandidateStage.Measuring)} done {Count(CandidateStage.Done)} failed {Count(CandidateStage.Failed)}");
            if (finished >= total)
            {
                bar.Finish(finished);
                return;
            }
            await Task.Delay(TimeSpan.FromSeconds(1), cancellation);
        }
    }

    public static async Task PrintFronts(TextWriter writer, IGrainFactory grains, SearchSpec spec)
    {
        foreach (var scale in spec.Scales)
        {
            foreach (var device in spec.Devices)
            {
                var view = await grains.GetGrain<IParetoGrain>($"{spec.Name}/x{scale}/{device}").Get();
                writer.WriteLine($"Pareto front x{scale} on {device}: {view.Front.Count} of {view.All.Count} candidates" +
                    (view.History.Count > 0 ? string.Create(CultureInfo.InvariantCulture, $", hypervolume {view.History[^1].Hypervolume:F1}") : ""));
                writer.WriteLine($"  {"candidate",-48} {"int8 PSNR",9} {"median ms",10} {"MAI score",12}");
                foreach (var point in view.Front)
                {
                    writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {point.CandidateKey,-48} {point.Psnr,9:F2} {point.MedianMs,10:F2} {ParetoMath.MaiScore(point.Psnr, point.MedianMs),12:G4}"));
                }
            }
        }
    }
}
