using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SrMobile.Training;
using SrMobile.Engine;
using SrMobile.Engine.Evaluation;
using SrMobile.Engine.Metrics;
using SrMobile.Engine.Models;
using SrMobile.Engine.Onnx;
using SrMobile.Training.Network;
using SrMobile.Training.Trainer;

namespace SrMobile.Cli.Commands;

/// <summary><c>srmobile test --dataset Set5 --scale 3 (--model ckpt | --bicubic)</c>: per-image PSNR/SSIM next to bicubic.</summary>
public static class TestCommand
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static Command Create(CliConsole console)
    {
        var dataset = new Option<DirectoryInfo>("--dataset") { Description = "Folder of HR images (e.g. Set5); LR is their MATLAB bicubic", Required = true };
        var scale = new Option<int>("--scale") { Description = "2, 3 or 4", Required = true };
        var model = new Option<FileInfo?>("--model") { Description = "Float checkpoint (.ckpt) to test" };
        var onnx = new Option<FileInfo?>("--onnx") { Description = "ONNX model (float or int8) to test on ONNX Runtime" };
        var bicubic = new Option<bool>("--bicubic") { Description = "Test the bicubic baseline itself" };
        var threads = new Option<int>("--threads") { Description = "With --onnx: engine threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var tile = new Option<int>("--tile") { Description = "With --onnx: run images larger than this (LR px) in overlapping tiles; 0 = whole", DefaultValueFactory = _ => 0 };
        var protocol = new Option<string>("--protocol") { Description = "y: Y channel, shave = scale (SR tables); rgb: RGB, 1-px border (the seed's)", DefaultValueFactory = _ => "y" };
        protocol.AcceptOnlyFromAmong("y", "rgb");
        var output = new Option<DirectoryInfo?>("--output") { Description = "Write the SR images as PNG here" };
        var json = new Option<bool>("--json") { Description = "Print one JSON document on stdout (progress stays on stderr)" };
        var command = new Command("test", "Per-image PSNR/SSIM of a model (or bicubic) on a benchmark folder.")
        {
            dataset, scale, model, onnx, bicubic, protocol, output, json, threads, tile,
        };
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () =>
        {
            var s = parse.GetValue(scale);
            SrMobileCommand.CheckScale(s);
            var modelFile = parse.GetValue(model);
            var onnxFile = parse.GetValue(onnx);
            if (new[] { modelFile is not null, onnxFile is not null, parse.GetValue(bicubic) }.Count(given => given) != 1)
                throw new BadInputException("give exactly one of --model <checkpoint>, --onnx <model.onnx> or --bicubic");
            var kind = parse.GetValue(protocol) == "rgb" ? ProtocolKind.Rgb : ProtocolKind.Y;

            AbpnNetwork? network = null;
            SrEngine? engine = null;
            Func<Engine.Imaging.Image8, Engine.Imaging.Image8>? upscale = null;
            var method = DatasetEvaluation.BicubicMethod;
            if (modelFile is not null)
            {
                var checkpoint = AbpnCheckpoint.Load(modelFile.FullName);
                if (checkpoint.Architecture.Scale != s)
                    throw new BadInputException($"{modelFile.FullName}: model is x{checkpoint.Architecture.Scale}, --scale is {s}");
                network = AbpnNetwork.FromCheckpoint(checkpoint);
                network.eval();
                upscale = low =>
                {
                    cancellation.ThrowIfCancellationRequested();
                    return SuperResolver.Upscale(network, low);
                };
                method = Path.GetFileNameWithoutExtension(modelFile.Name);
            }
            else if (onnxFile is not null)
            {
                engine = SrEngine.Load(onnxFile.FullName, new EngineOptions { Threads = parse.GetValue(threads), TileSize = parse.GetValue(tile) });
                if (engine.Scale != s)
                {
                    engine.Dispose();
                    throw new BadInputException($"{onnxFile.FullName}: model is x{engine.Scale}, --scale is {s}");
                }
                upscale = low =>
                {
                    cancellation.ThrowIfCancellationRequested();
                    return engine.Upscale(low);
                };
                method = Path.GetFileNameWithoutExtension(onnxFile.Name);
            }
            using (engine)
            using (network)
            {
                ProgressBar? bar = null;
                var report = DatasetEvaluation.Run(parse.GetValue(dataset)!.FullName, s, kind, method, upscale, parse.GetValue(output)?.FullName,
                    new InlineProgress<(int Done, int Total, string Name)>(p =>
                    {
                        bar ??= new ProgressBar(console, "test", p.Total);
                        bar.Report(p.Done, p.Name, force: p.Done == p.Total);
                    }));
                if (parse.GetValue(json))
                    console.Out.WriteLine(JsonSerializer.Serialize(report, Json));
                else
                    PrintTable(console.Out, report);
            }
            return Task.FromResult(0);
        }));
        return command;
    }

    public static void PrintTable(TextWriter writer, DatasetReport report)
    {
        var withBaseline = report.Bicubic is not null;
        var nameWidth = Math.Max(8, report.Images.Max(i => i.Name.Length));
        writer.WriteLine($"{report.Dataset} x{report.Scale}, protocol {report.Protocol}: {report.Method}{(withBaseline ? " vs bicubic" : "")}");
        writer.WriteLine(withBaseline
            ? $"{"image".PadRight(nameWidth)}  {"PSNR",8}  {"SSIM",7}  {"bicubic",8}  {"SSIM",7}  {"gain",6}"
            : $"{"image".PadRight(nameWidth)}  {"PSNR",8}  {"SSIM",7}");
        for (var i = 0; i < report.Images.Count; i++)
            writer.WriteLine(Row(report.Images[i].Name, report.Images[i].Psnr, report.Images[i].Ssim, report.Bicubic?.Images[i]));
        writer.WriteLine(Row("mean", report.Mean.Psnr, report.Mean.Ssim, report.Bicubic is { } b ? new ImageResult("mean", b.Mean.Psnr, b.Mean.Ssim) : null));

        string Row(string name, double psnr, double ssim, ImageResult? baseline) => string.Create(CultureInfo.InvariantCulture,
            $"{name.PadRight(nameWidth)}  {psnr,8:F2}  {ssim,7:F4}{(baseline is null ? "" : $"  {baseline.Psnr,8:F2}  {baseline.Ssim,7:F4}  {psnr - baseline.Psnr,+6:+0.00;-0.00}")}");
    }
}
