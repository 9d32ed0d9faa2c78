using SrMobile.Engine.Models;
using SrMobile.Training.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SrMobile.Training.Network;

/// <summary>
/// ABPN exactly as SEED-METHOD.md. Two training-only knobs, both folded away on export so the exported network is
/// the seed's: an optional conv-path scaling (the conv path sees x·InputScale and its residual is multiplied by
/// ResidualScale; <see cref="AbpnCheckpoint.SeedWeights"/> folds both into the first and last convolution), and the
/// zero-initialised last convolution (see <see cref="ResetParameters"/>).
/// </summary>
public sealed class AbpnNetwork : nn.Module<Tensor, Tensor>
{
    // Raw 0..255 into the first conv, as the seed: with the zero-initialised last conv it trains well (docs/TRAINING.md).
    public const double DefaultInputScale = 1.0;
    public const double DefaultResidualScale = 1.0;

    private readonly ModuleList<Conv2d> conv;

    public AbpnNetwork(AbpnArchitecture architecture, double inputScale = DefaultInputScale, double residualScale = DefaultResidualScale, int seed = 0)
        : base(nameof(AbpnNetwork))
    {
        Architecture = architecture.Validate();
        InputScale = inputScale;
        ResidualScale = residualScale;
        conv = new ModuleList<Conv2d>();
        for (var i = 0; i < architecture.ConvolutionCount; i++)
        {
            var (output, input) = architecture.ConvolutionChannels(i);
            conv.Add(nn.Conv2d(input, output, kernel_size: 3, padding: 1, bias: true));
        }
        RegisterComponents();
        ResetParameters(seed);
    }

    public AbpnArchitecture Architecture { get; }
    public double InputScale { get; }
    public double ResidualScale { get; }

    /// <summary>
    /// Glorot-normal weights and zero biases (the seed's initialisation), except the last convolution, which starts
    /// at zero so the untrained network is exactly the anchor. With Glorot there too, the first residuals are tens
    /// of levels off, and Adam's quickest way to shrink them is to kill every ReLU of the layer before: training
    /// then sits at the anchor for good (seen here with raw and with 1/255-scaled inputs, several seeds).
    /// </summary>
    public void ResetParameters(int seed)
    {
        // Drawn from a generator of our own, not libtorch's global one: the same seed gives the same network
        // whatever else in the process draws random numbers (parallel tests, several trainers).
        var random = new Random(seed);
        using var _ = no_grad();
        for (var i = 0; i < conv.Count; i++)
        {
            var weight = conv[i].weight!;
            var values = i < conv.Count - 1 ? GlorotNormal(weight.shape, random) : new float[weight.numel()];
            using (var initial = tensor(values, weight.shape))
                weight.copy_(initial);
            nn.init.zeros_(conv[i].bias!);
        }
    }

    /// <summary>
    /// Gives the (zero-initialised) last convolution small Glorot-normal weights too: an untrained stand-in whose
    /// residual is not identically zero, for latency and quantization checks before anything is trained.
    /// </summary>
    public void RandomizeLastConvolution(int seed)
    {
        var last = conv[conv.Count - 1].weight!;
        var values = GlorotNormal(last.shape, new Random(seed ^ 0x5EED));
        using var _ = no_grad();
        using var initial = tensor(values, last.shape);
        last.copy_(initial);
    }

    // Glorot normal: σ = √(2 / (fan_in + fan_out)), fans counting the 3×3 receptive field.
    private static float[] GlorotNormal(long[] shape, Random random)
    {
        var sigma = Math.Sqrt(2.0 / ((shape[0] + shape[1]) * 9.0));
        var values = new float[shape.Aggregate(1L, (a, b) => a * b)];
        for (var k = 0; k < values.Length; k++)
            values[k] = (float)(sigma * StandardNormal(random));
        return values;
    }

    // Box–Muller; 1 − U keeps the logarithm's argument in (0, 1].
    private static double StandardNormal(Random random) =>
        Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2.0 * Math.PI * random.NextDouble());

    /// <summary>N×3×H×W, 0..255 → N×3×sH×sW, clipped to 0..255.</summary>
    public override Tensor forward(Tensor input) =>
        Quantization is null ? Forward(input, null) : QuantizedForward(input, Quantization.Ranges, Quantization.Activations, training ? Quantization : null);

    /// <summary>Set for quantization-aware training and its validation: the forward pass becomes the int8 graph's.</summary>
    public QuantizationState? Quantization { get; set; }

    /// <summary>
    /// The forward pass, showing <paramref name="observe"/> each convolution's output as the seed network has it
    /// (after its ReLU; the last one scaled by ResidualScale): exactly the tensors the int8 graph quantizes.
    /// </summary>
    public Tensor Forward(Tensor input, Action<int, Tensor>? observe)
    {
        using var scope = NewDisposeScope();
        var scale = Architecture.Scale;
        // The anchor in CRD order: each input channel repeated s² times (R×s², G×s², B×s²), matching pixel_shuffle.
        var anchor = input.repeat_interleave(scale * scale, dim: 1);
        using var inputScale = InputScale.ToScalar();
        var features = InputScale == 1 ? input : input.mul(inputScale);
        for (var i = 0; i < conv.Count - 1; i++)
        {
            features = nn.functional.relu(conv[i].forward(features));
            observe?.Invoke(i, features);
        }
        var residual = conv[conv.Count - 1].forward(features);
        if (ResidualScale != 1)
        {
            using var residualScale = ResidualScale.ToScalar();
            residual = residual.mul(residualScale);
        }
        observe?.Invoke(conv.Count - 1, residual);
        var output = nn.functional.pixel_shuffle(residual + anchor, scale).clamp(Scalars.Zero, Scalars.PixelMax);
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The forward pass of the int8 graph, simulated in float (the QAT forward): uint8-exact input, per-channel
    /// int8 weights, int32 biases, each convolution output quantized with its range (after the ReLU), the sum
    /// quantized with scale 1 (which is the clip). Gradients pass straight through the roundings.
    /// </summary>
    public Tensor QuantizedForward(Tensor input, IReadOnlyList<Engine.Onnx.TensorRange> ranges, Engine.Onnx.ActivationType activations,
        QuantizationState? observer = null)
    {
        using var scope = NewDisposeScope();
        var scale = Architecture.Scale;
        var anchor = input.repeat_interleave(scale * scale, dim: 1);
        var features = input;
        var inputScale = Engine.Onnx.AffineQuantization.Pixels(activations).Scale;
        for (var i = 0; i < conv.Count; i++)
        {
            // The seed's weights: the conv-path scales folded in, as the exporter writes them.
            var factor = (i == 0 ? InputScale : 1.0) * (i == conv.Count - 1 ? ResidualScale : 1.0);
            using var factorScalar = factor.ToScalar();
            using var residualScale = ResidualScale.ToScalar();
            var weight = factor == 1 ? conv[i].weight! : conv[i].weight!.mul(factorScalar);
            var bias = i == conv.Count - 1 && ResidualScale != 1 ? conv[i].bias!.mul(residualScale) : conv[i].bias!;
            var weightScales = FakeQuantization.ChannelScales(weight);
            features = nn.functional.conv2d(features, FakeQuantization.Weights(weight),
                FakeQuantization.Bias(bias, inputScale, weightScales), padding: [1, 1]);
            if (i < conv.Count - 1)
                features = nn.functional.relu(features);
            observer?.Observe(i, features.detach());
            var output = Engine.Onnx.AffineQuantization.ForRange(ranges[i], activations);
            features = FakeQuantization.PerTensor(features, output);
            inputScale = output.Scale;
        }
        var sum = FakeQuantization.PerTensor(features + anchor, Engine.Onnx.AffineQuantization.Pixels(Engine.Onnx.ActivationType.UInt8));
        return nn.functional.pixel_shuffle(sum, scale).MoveToOuterDisposeScope();
    }

    /// <summary>Parameters as named float arrays (OIHW), in checkpoint form.</summary>
    public IReadOnlyList<NamedTensor> ExportParameters()
    {
        var result = new List<NamedTensor>();
        for (var i = 0; i < conv.Count; i++)
        {
            result.Add(ToNamed(AbpnCheckpoint.WeightName(i), conv[i].weight!));
            result.Add(ToNamed(AbpnCheckpoint.BiasName(i), conv[i].bias!));
        }
        return result;
    }

    public void ImportParameters(IReadOnlyList<NamedTensor> parameters)
    {
        using var _ = no_grad();
        for (var i = 0; i < conv.Count; i++)
        {
            CopyInto(conv[i].weight!, Find(AbpnCheckpoint.WeightName(i)));
            CopyInto(conv[i].bias!, Find(AbpnCheckpoint.BiasName(i)));
        }

        NamedTensor Find(string name) => parameters.FirstOrDefault(p => p.Name == name)
            ?? throw new ArgumentException($"no parameter {name} for {Architecture}");
    }

    public CheckpointMetadata DescribeCheckpoint(long iteration, string? runName) => new()
    {
        Quantization = Quantization is null ? null : new QuantizationMetadata(
            Quantization.Activations == Engine.Onnx.ActivationType.Int8 ? "int8" : "uint8",
            Quantization.Ranges.Select(r => new[] { r.Min, r.Max }).ToList(),
            Frozen: !Quantization.Observing),
        Scale = Architecture.Scale,
        Depth = Architecture.Depth,
        Width = Architecture.Width,
        InputScale = InputScale,
        ResidualScale = ResidualScale,
        Iteration = iteration,
        RunName = runName,
    };

    /// <summary>A network with the checkpoint's architecture, scales and parameters.</summary>
    public static AbpnNetwork FromCheckpoint(AbpnCheckpoint checkpoint)
    {
        var network = new AbpnNetwork(checkpoint.Architecture, checkpoint.Metadata.InputScale, checkpoint.Metadata.ResidualScale);
        network.ImportParameters(checkpoint.Parameters);
        if (checkpoint.Metadata.Quantization is { } q)
        {
            network.Quantization = new QuantizationState(q.TensorRanges(), q.ActivationType) { Observing = !q.Frozen };
        }
        return network;
    }

    public long ParameterCount() => parameters().Sum(p => p.numel());

    private static NamedTensor ToNamed(string name, Tensor tensor)
    {
        using var cpu = tensor.detach().cpu().contiguous();
        return new NamedTensor(name, cpu.shape, cpu.data<float>().ToArray());
    }

    private static void CopyInto(Tensor target, NamedTensor source)
    {
        if (!target.shape.SequenceEqual(source.Shape))
            throw new ArgumentException($"{source.Name} has shape [{string.Join(',', source.Shape)}], the network needs [{string.Join(',', target.shape)}]");
        using var values = tensor(source.Values, source.Shape).to(target.device);
        target.copy_(values);
    }
}
