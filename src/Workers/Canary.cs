using SrMobile.Contracts;
using SrMobile.Engine.Models;
using SrMobile.Engine.Onnx;

namespace SrMobile.Workers;

/// <summary>
/// The canary's settings (<c>SrMobile:Device:Canary</c>): how often it runs and its own fixed protocol, the same on
/// every run so its numbers compare over a device's life. A change of protocol is a new signature, so a new baseline.
/// </summary>
public sealed class CanaryOptions
{
    /// <summary>The canary runs when a worker starts and again after this many measurements (0: never).</summary>
    public int Every { get; set; } = 20;

    public int Height { get; set; } = 180;
    public int Width { get; set; } = 320;
    public int Warmup { get; set; } = 3;
    public int MinRuns { get; set; } = 15;
    public double MinSeconds { get; set; } = 2;
    public double MaxSeconds { get; set; } = 30;

    public LatencyProtocol Protocol(int threads) => new()
    {
        Height = Height,
        Width = Width,
        Threads = threads,
        Warmup = Warmup,
        MinRuns = MinRuns,
        MinSeconds = MinSeconds,
        MaxSeconds = MaxSeconds,
    };
}

/// <summary>
/// The canary model: the seed's challenge architecture (×3, m = 4, C = 28) with fixed pseudo-random weights and
/// ranges, as an int8 graph of the device's activation type. It needs no training and no artifact, so every device
/// can build the same graph at any time; only its speed matters, and a drift of that speed says the machine changed.
/// </summary>
public static class CanaryModel
{
    private const int Seed = 2021;

    public static AbpnArchitecture Architecture => AbpnArchitecture.Seed;

    /// <summary>What makes two canary runs comparable: the model, the activation type, the protocol and the engine.</summary>
    public static string Signature(string activations, LatencyProtocol protocol) =>
        $"{Architecture} seed {Seed} {activations} {protocol.Height}x{protocol.Width} threads {protocol.Threads} warmup {protocol.Warmup} " +
        $"runs {protocol.MinRuns} {protocol.MinSeconds}-{protocol.MaxSeconds} s onnxruntime {SrEngine.RuntimeVersion}";

    /// <summary>Writes the canary graph of <paramref name="activations"/> under <paramref name="folder"/> (once) and returns its path.</summary>
    public static string Write(string folder, string activations)
    {
        var path = Path.Combine(folder, $"canary-{activations}.onnx");
        if (File.Exists(path))
            return path;
        Directory.CreateDirectory(folder);
        var random = new Random(Seed);
        var weights = new List<NamedTensor>();
        for (var i = 0; i < Architecture.ConvolutionCount; i++)
        {
            var (outputs, inputs) = Architecture.ConvolutionChannels(i);
            // He-uniform, so activations keep their size through the body as a trained network's do.
            var bound = (float)Math.Sqrt(6.0 / (inputs * 9));
            weights.Add(new NamedTensor(AbpnCheckpoint.WeightName(i), [outputs, inputs, 3, 3],
                [.. Enumerable.Range(0, outputs * inputs * 9).Select(_ => (float)((random.NextDouble() * 2) - 1) * bound)]));
            weights.Add(new NamedTensor(AbpnCheckpoint.BiasName(i), [outputs], new float[outputs]));
        }
        var ranges = Enumerable.Range(0, Architecture.ConvolutionCount)
            .Select(i => i < Architecture.Depth + 1 ? new TensorRange(0, 255) : new TensorRange(-64, 64)).ToList();
        var type = activations == ActivationTypes.Int8 ? ActivationType.Int8 : ActivationType.UInt8;
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        AbpnOnnxWriter.Save(AbpnOnnxWriter.Int8(Architecture, weights, ranges, type), temporary);
        File.Move(temporary, path, overwrite: true);
        return path;
    }
}
