using System.CommandLine;
using System.Globalization;
using SrMobile.Contracts;
using SrMobile.Engine;
using SrMobile.Engine.Evaluation;
using SrMobile.Engine.Metrics;
using SrMobile.Query;

namespace SrMobile.Cli.Commands;

/// <summary>
/// <c>srmobile demo</c>: the product in one command. A small real search (the bundled
/// <c>options/search/samples_x3.yaml</c>: 2 depths × 2 widths, ×3, PTQ and QAT, short budgets) on the embedded
/// cluster: every candidate is trained on the bundled photos, quantized, exported to int8 ONNX, scored on the int8
/// engine's own output and timed on this machine as device key <c>local</c>; it ends with the Pareto front.
/// Rerunning resumes an unfinished demo and reprints a finished one.
/// </summary>
public static class DemoCommand
{
    public const string SpecPath = "options/search/samples_x3.yaml";

    public static Command Create(CliConsole console)
    {
        var workdir = new Option<DirectoryInfo?>("--workdir") { Description = "Folder for the demo's state and models (default: current; they go to .srmobile/demo)" };
        var fresh = new Option<bool>("--fresh") { Description = "Delete the demo's state and models first" };
        var iterations = new Option<long?>("--iterations") { Description = "Float training steps per candidate (QAT gets half); default: the spec's" };
        var quick = new Option<bool>("--quick") { Description = "Smoke run: a 3-run latency protocol at 120x160 (the times mean little)" };
        var threads = new Option<int>("--threads") { Description = "Trainer threads (0 = all cores)", DefaultValueFactory = _ => 0 };
        var noDashboard = SearchCommand.NoDashboardOption();
        var command = new Command("demo", $"A small real search on the bundled photos ({SpecPath}), ending with its Pareto front; live in the dashboard.") { workdir, fresh, iterations, quick, threads, noDashboard };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, async () =>
        {
            var root = Path.Combine(parse.GetValue(workdir)?.FullName ?? Directory.GetCurrentDirectory(), ".srmobile", "demo");
            if (parse.GetValue(fresh) && Directory.Exists(root))
                Directory.Delete(root, recursive: true);
            var spec = Spec(parse.GetValue(iterations), parse.GetValue(quick));

            var dashboard = !parse.GetValue(noDashboard);
            using var host = SearchCommand.EmbeddedCluster(root, parse.GetValue(threads), web: dashboard);
            await host.StartAsync(cancellation);
            try
            {
                var service = new SearchService(host.Services.GetRequiredService<IGrainFactory>());
                var submitted = (await service.Submit(SearchSpecWriter.ToJson(spec), cancellation)).Result;
                if (!submitted.Accepted)
                    throw new BadInputException($"{root} holds a demo run with other settings ({string.Join("; ", submitted.Errors)}); add --fresh to start over");
                console.Error.WriteLine(submitted.Created
                    ? $"demo: {submitted.Candidates} candidates ({string.Join(" × ", $"depths {string.Join('/', spec.Depths)}", $"widths {string.Join('/', spec.Widths)}", string.Join('/', spec.Quantization.Select(q => q.Kind)))}, x3), state in {root}"
                    : $"demo resumes: {submitted.Candidates} candidates, state in {root}");
                var url = dashboard ? SearchCommand.DashboardUrl(host, spec.Name) : null;
                if (url is not null)
                    console.Error.WriteLine($"dashboard: {url}");
                await SearchCommand.Follow(console, service, spec.Name, submitted.Candidates, cancellation);
                var failed = await PrintCandidates(console.Out, service, spec);
                console.Out.WriteLine();
                SearchCommand.PrintFronts(console.Out, (await service.Fronts(spec.Name, cancellation: cancellation))!);
                if (url is not null)
                    await SearchCommand.KeepServing(console, url, cancellation);
                return failed == 0 ? 0 : 1;
            }
            finally
            {
                await host.StopAsync(CancellationToken.None);
            }
        }));
        return command;
    }

    /// <summary>The bundled spec with its dataset folders made absolute (they are bundled beside it) and the budgets asked for.</summary>
    public static SearchSpec Spec(long? iterations, bool quick)
    {
        var path = SrMobileCommand.Bundled(SpecPath);
        var (spec, errors) = SearchSpecReader.Parse(InputFile.ReadText(path, "demo search spec"));
        if (spec is null)
            throw new BadInputException($"{path}: " + string.Join("; ", errors));
        string? Bundled(string? folder) => folder is null ? null : Path.GetFullPath(SrMobileCommand.Bundled(folder));
        spec = spec with { Datasets = new SearchDatasets(Bundled(spec.Datasets.Train)!, Bundled(spec.Datasets.Validation), Bundled(spec.Datasets.Calibration)) };
        if (iterations is { } steps)
        {
            if (steps < 2)
                throw new BadInputException($"--iterations must be at least 2, not {steps}");
            spec = spec with
            {
                Training = spec.Training with { Iterations = steps },
                Quantization = [.. spec.Quantization.Select(q => q.Kind == "qat" ? q with { QatIterations = steps / 2 } : q)],
            };
        }
        if (quick)
            spec = spec with { Protocol = spec.Protocol with { Height = 120, Width = 160, Warmup = 1, MinRuns = 3, MinSeconds = 0 } };
        return spec;
    }

    /// <summary>One line per candidate (float and int8 PSNR, time), with bicubic's PSNR on the same images; returns how many failed.</summary>
    private static async Task<int> PrintCandidates(TextWriter writer, SearchService service, SearchSpec spec)
    {
        var validation = spec.Datasets.Validation ?? spec.Datasets.Train;
        var views = await service.Candidates(spec.Name) ?? [];
        // The front's confirmation run measured the near-front candidates again, interleaved: their second number.
        var confirmed = (await service.Fronts(spec.Name) ?? []).SelectMany(f => f.All).Where(p => p.FirstMs is not null).ToDictionary(p => p.CandidateKey, p => p.MedianMs);
        foreach (var scale in spec.Scales)
        {
            var bicubic = DatasetEvaluation.Run(validation, scale, ProtocolKind.Y, DatasetEvaluation.BicubicMethod, null).Mean.Psnr;
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"x{scale} on {validation} (Y PSNR; bicubic {bicubic:F2} dB):"));
            writer.WriteLine($"  {"candidate",-48} {"stage",-9} {"float",7} {"int8",7} {"vs bicubic",10} {"ms (local)",10} {"confirmed",9}");
            foreach (var view in views.Where(v => v.Spec?.Scale == scale))
            {
                var trained = view.Trained;
                var milliseconds = view.Measurements.FirstOrDefault()?.MedianMs;
                var again = confirmed.TryGetValue(view.Key, out var ms) ? ms.ToString("F1", CultureInfo.InvariantCulture) : "-";
                writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {view.Key,-48} {view.Stage.ToString().ToLowerInvariant(),-9} {trained?.FloatPsnr,7:F2} {trained?.Int8Psnr,7:F2} {trained?.Int8Psnr - bicubic,10:+0.00;-0.00} {milliseconds,10:F1} {again,9}"));
                foreach (var error in view.Errors)
                    writer.WriteLine($"    {error}");
            }
        }
        return views.Count(v => v.Stage == CandidateStage.Failed);
    }
}
