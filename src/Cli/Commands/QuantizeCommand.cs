using System.CommandLine;
using System.Globalization;
using SrMobile.Training;
using SrMobile.Engine;
using SrMobile.Engine.Imaging;
using SrMobile.Engine.Onnx;
using SrMobile.Training.Network;
using SrMobile.Training.Quantization;

namespace SrMobile.Cli.Commands;

/// <summary>
/// <c>srmobile quantize --model ckpt --calib folder [--images N] [--method minmax|percentile|mse] --out model.int8.onnx</c>:
/// post-training quantization to the QDQ int8 graph.
/// </summary>
public static class QuantizeCommand
{
    public static Command Create(CliConsole console)
    {
        var model = new ModelOptions();
        var calib = new Option<DirectoryInfo?>("--calib") { Description = "Calibration images, used as full-size LR inputs (default: the bundled photos, downscaled)" };
        var fromHigh = new Option<bool>("--calib-hr") { Description = "The calibration images are HR: make their LR with the MATLAB bicubic first" };
        var images = new Option<int>("--images") { Description = "How many calibration images (the seed used 100)", DefaultValueFactory = _ => 100 };
        var method = new Option<string>("--method") { Description = "minmax (the seed's), percentile or mse", DefaultValueFactory = _ => "minmax" };
        method.AcceptOnlyFromAmong("minmax", "percentile", "mse");
        var activations = new Option<string>("--activations") { Description = "uint8 (x86) or int8 (ARM)", DefaultValueFactory = _ => "uint8" };
        activations.AcceptOnlyFromAmong("uint8", "int8");
        var output = new Option<FileInfo>("--out") { Description = "ONNX file to write", Required = true };
        var command = new Command("quantize", "Post-training quantization: calibrate activation ranges, write the QDQ int8 ONNX model.")
        {
            calib, fromHigh, images, method, activations, output,
        };
        model.AddTo(command);
        command.SetAction((parse, cancellation) => SrMobileCommand.Guard(console, () =>
        {
            var checkpoint = model.Load(parse);
            var type = parse.GetValue(activations) == "int8" ? ActivationType.Int8 : ActivationType.UInt8;
            IReadOnlyList<TensorRange> ranges;
            string source;
            if (checkpoint.Metadata.Quantization is { } learned)
            {
                // A QAT checkpoint carries the ranges it was trained with: the export must use exactly those.
                ranges = learned.TensorRanges();
                type = learned.ActivationType;
                source = "the ranges learned by QAT";
            }
            else
            {
                var kind = parse.GetValue(method) switch { "percentile" => CalibrationMethod.Percentile, "mse" => CalibrationMethod.Mse, _ => CalibrationMethod.MinMax };
                var inputs = CalibrationImages(parse.GetValue(calib)?.FullName, parse.GetValue(fromHigh), parse.GetValue(images), checkpoint.Architecture.Scale, cancellation);
                using var network = AbpnNetwork.FromCheckpoint(checkpoint);
                network.eval();
                var bar = new ProgressBar(console, "calibrate", 2 * inputs.Count);
                ranges = Calibration.Ranges(network, inputs, kind, type, new InlineProgress<(int Done, int Total)>(p => bar.Report(p.Done)));
                bar.Finish(2 * inputs.Count);
                source = $"{parse.GetValue(method)} calibration over {inputs.Count} images";
            }
            var path = parse.GetValue(output)!.FullName;
            AbpnOnnxWriter.Save(AbpnOnnxWriter.Int8(checkpoint.Architecture, checkpoint.SeedWeights(), ranges, type), path);
            for (var i = 0; i < ranges.Count; i++)
                console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  conv{i} output range [{ranges[i].Min:G5}, {ranges[i].Max:G5}]"));
            console.Out.WriteLine($"{checkpoint.Architecture} int8 ({type} activations, {source}) -> {path}");
            return Task.FromResult(0);
        }));
        return command;
    }

    /// <summary>Full-size LR inputs: the folder's images as they are, or (HR, and the bundled default) their MATLAB bicubic.</summary>
    private static List<Image8> CalibrationImages(string? folder, bool fromHigh, int count, int scale, CancellationToken cancellation)
    {
        var high = fromHigh || folder is null;
        folder ??= SrMobileCommand.Bundled(Path.Combine("samples", "train"));
        if (count < 1)
            throw new BadInputException($"--images must be at least 1, not {count}");
        var files = ImageFile.ListImages(folder).Take(count).ToList();
        if (files.Count == 0)
            throw new BadInputException($"{folder}: calibration folder has no PNG, JPEG, BMP or WebP images");
        return files.Select(f =>
        {
            cancellation.ThrowIfCancellationRequested();
            var image = ImageFile.Read(f);
            return high ? MatlabResize.Downscale(image.ModCrop(scale), scale) : image;
        }).ToList();
    }
}
