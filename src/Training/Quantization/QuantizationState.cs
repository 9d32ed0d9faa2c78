using SrMobile.Engine.Onnx;
using static TorchSharp.torch;

namespace SrMobile.Training.Quantization;

/// <summary>
/// The activation ranges a QAT network fake-quantizes with: observed as an exponential moving average of each
/// tensor's min/max while <see cref="Observing"/>, then frozen, and exported as the int8 graph's ranges.
/// </summary>
public sealed class QuantizationState(IReadOnlyList<TensorRange> initial, ActivationType activations, double decay = 0.99)
{
    public ActivationType Activations { get; } = activations;
    public double Decay { get; } = decay;
    public TensorRange[] Ranges { get; } = [.. initial];
    public bool Observing { get; set; } = true;

    public void Observe(int index, Tensor values)
    {
        if (!Observing)
            return;
        var min = Math.Min(0, values.min().item<float>());
        var max = Math.Max(0, values.max().item<float>());
        var old = Ranges[index];
        Ranges[index] = new TensorRange((Decay * old.Min) + ((1 - Decay) * min), (Decay * old.Max) + ((1 - Decay) * max));
    }
}
