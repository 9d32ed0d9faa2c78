using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace SrMobile.Engine.Onnx;

/// <summary>
/// Pads the channels of a QDQ int8 graph's convolutions with zeros, exactly: a padded output channel has zero
/// weights and a zero bias, so it holds the activation's zero point, which dequantizes to 0; the next convolution
/// gives it zero weights. Where padded channels would reach anything but a convolution (the anchor addition), a
/// Slice on the quantized tensor drops them; where an input has too few channels (the 3-channel image), a Pad of
/// the quantized tensor with its zero point adds them. Every value the graph computes stays the same.
/// </summary>
/// <remarks>
/// Why: ONNX Runtime's x86 int8 convolution has a direct (indirect-buffer) kernel for symmetric weights only when
/// the input channels are a multiple of 4 and the output channels a multiple of 4 and at least 16; every other
/// shape goes through im2col and a general GEMM several times slower per MAC (docs/BENCHMARKS.md, issue 10).
/// </remarks>
public static class ChannelPadding
{
    /// <summary>
    /// Pads the input channels of every int8 convolution whose activations are of type <paramref name="activations"/>
    /// to a multiple of <paramref name="inputMultiple"/> and its output channels to a multiple of
    /// <paramref name="outputMultiple"/> and at least <paramref name="outputMinimum"/>. Returns how many convolutions
    /// changed; a graph without such QDQ convolutions is left alone.
    /// </summary>
    public static int Apply(ModelProto model, ActivationType activations, int inputMultiple, int outputMultiple, int outputMinimum)
    {
        var graph = new GraphIndex(model.Graph);
        var convolutions = model.Graph.Node.Where(n => n.OpType == "Conv").Select(graph.QuantizedConv)
            .OfType<QuantizedConv>().Where(c => graph.InputType(c) == activations).ToList();
        // Input channels a convolution gets from a padded producer, keyed by the node.
        var paddedInputs = new Dictionary<NodeProto, int>();
        var changed = 0;
        foreach (var conv in convolutions)
        {
            var inputs = paddedInputs.GetValueOrDefault(conv.Node, conv.InputChannels);
            if (inputs == conv.InputChannels && inputs % inputMultiple != 0 && graph.PadInput(conv, RoundUp(inputs, inputMultiple)))
                inputs = RoundUp(inputs, inputMultiple);
            var outputs = Math.Max(outputMinimum, RoundUp(conv.OutputChannels, outputMultiple));
            if (outputs != conv.OutputChannels)
            {
                var chain = graph.OutputChain(conv);
                if (chain is null)
                    outputs = conv.OutputChannels;
                else if (chain.Consumers.All(c => convolutions.Any(k => k.Node == c)))
                    chain.Consumers.ForEach(c => paddedInputs[c] = outputs);
                else
                    graph.SliceChannels(chain.Quantized, conv.OutputChannels);
            }
            if (inputs == conv.InputChannels && outputs == conv.OutputChannels)
                continue;
            graph.Resize(conv, inputs, outputs);
            changed++;
        }
        return changed;
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>A Conv whose weight and bias are DequantizeLinear nodes of int8/int32 initializers (the QDQ form).</summary>
    private sealed record QuantizedConv(NodeProto Node, NodeProto WeightDequantize, NodeProto BiasDequantize, int OutputChannels, int InputChannels);

    /// <summary>Conv → [Relu] → QuantizeLinear (its output: <see cref="Quantized"/>) → DequantizeLinear → <see cref="Consumers"/>.</summary>
    private sealed record OutputChain(string Quantized, List<NodeProto> Consumers);

    private sealed class GraphIndex(GraphProto graph)
    {
        private readonly Dictionary<string, TensorProto> initializers = graph.Initializer.ToDictionary(t => t.Name);
        private int added;

        private NodeProto? Producer(string tensor) => graph.Node.FirstOrDefault(n => n.Output.Contains(tensor));

        private List<NodeProto> Consumers(string tensor) => [.. graph.Node.Where(n => n.Input.Contains(tensor))];

        public QuantizedConv? QuantizedConv(NodeProto conv)
        {
            if (conv.Input.Count != 3 || Attribute(conv, "group") is not (null or 1))
                return null;
            var weight = Producer(conv.Input[1]);
            var bias = Producer(conv.Input[2]);
            if (weight?.OpType != "DequantizeLinear" || bias?.OpType != "DequantizeLinear" || weight.Input.Count != 3 || bias.Input.Count != 3
                || !weight.Input.All(initializers.ContainsKey) || !bias.Input.All(initializers.ContainsKey))
                return null;
            var w = initializers[weight.Input[0]];
            bool Is(string name, TensorProto.Types.DataType type) => initializers[name].DataType == (int)type;
            if (w.Dims.Count != 4 || !Is(weight.Input[0], TensorProto.Types.DataType.Int8) || !Is(weight.Input[1], TensorProto.Types.DataType.Float)
                || !Is(weight.Input[2], TensorProto.Types.DataType.Int8) || !Is(bias.Input[0], TensorProto.Types.DataType.Int32)
                || !Is(bias.Input[1], TensorProto.Types.DataType.Float) || !Is(bias.Input[2], TensorProto.Types.DataType.Int32))
                return null;
            // Per-channel parameters only: a per-tensor scale would need no padding but is not what the writer makes.
            if (new[] { weight.Input[1], weight.Input[2], bias.Input[0], bias.Input[1], bias.Input[2] }.Any(p => Count(initializers[p]) != w.Dims[0]))
                return null;
            return new QuantizedConv(conv, weight, bias, (int)w.Dims[0], (int)w.Dims[1]);
        }

        /// <summary>The type of the convolution's quantized input, from its DequantizeLinear's zero point; null when it has none.</summary>
        public ActivationType? InputType(QuantizedConv conv) =>
            Producer(conv.Node.Input[0]) is { OpType: "DequantizeLinear" } dequantize && dequantize.Input.Count == 3 && initializers.TryGetValue(dequantize.Input[2], out var zero)
                ? (TensorProto.Types.DataType)zero.DataType switch
                {
                    TensorProto.Types.DataType.Uint8 => ActivationType.UInt8,
                    TensorProto.Types.DataType.Int8 => ActivationType.Int8,
                    _ => null,
                }
                : null;

        public OutputChain? OutputChain(QuantizedConv conv)
        {
            var next = Consumers(conv.Node.Output[0]);
            if (next is [{ OpType: "Relu" } relu] && Consumers(relu.Output[0]) is var afterRelu)
                next = afterRelu;
            if (next is not [{ OpType: "QuantizeLinear" } quantize] || Consumers(quantize.Output[0]) is not [{ OpType: "DequantizeLinear" } dequantize])
                return null;
            return new OutputChain(quantize.Output[0], Consumers(dequantize.Output[0]));
        }

        /// <summary>Pads the quantized tensor behind the convolution's input DequantizeLinear with its zero point.</summary>
        public bool PadInput(QuantizedConv conv, int channels)
        {
            var dequantize = Producer(conv.Node.Input[0]);
            if (dequantize?.OpType != "DequantizeLinear" || dequantize.Input.Count != 3 || !initializers.TryGetValue(dequantize.Input[2], out var zero)
                || Consumers(dequantize.Output[0]).Count != 1)
                return false;
            var name = Name("pad");
            Initializer(GraphWriter.Int64Tensor(name + ".pads", [0, 0, 0, 0, 0, channels - conv.InputChannels, 0, 0]));
            var value = zero.Clone();
            value.Name = name + ".value";
            value.Dims.Clear();
            Initializer(value);
            graph.Node.Insert(graph.Node.IndexOf(dequantize), GraphWriter.NodeProto("Pad", name, [dequantize.Input[0], name + ".pads", name + ".value"], name));
            dequantize.Input[0] = name;
            return true;
        }

        /// <summary>Keeps the first <paramref name="channels"/> channels of a quantized tensor for its DequantizeLinear.</summary>
        public void SliceChannels(string quantized, int channels)
        {
            var dequantize = Consumers(quantized).Single();
            var name = Name("slice");
            Initializer(GraphWriter.Int64Tensor(name + ".starts", [0]));
            Initializer(GraphWriter.Int64Tensor(name + ".ends", [channels]));
            Initializer(GraphWriter.Int64Tensor(name + ".axes", [1]));
            graph.Node.Insert(graph.Node.IndexOf(dequantize), GraphWriter.NodeProto("Slice", name, [quantized, name + ".starts", name + ".ends", name + ".axes"], name));
            dequantize.Input[0] = name;
        }

        /// <summary>Zero-pads the weights [O, I, kh, kw] and the per-channel scales, zero points and biases.</summary>
        public void Resize(QuantizedConv conv, int inputs, int outputs)
        {
            var weight = initializers[conv.WeightDequantize.Input[0]];
            var kernel = (int)(weight.Dims[2] * weight.Dims[3]);
            var old = Bytes(weight);
            var padded = new byte[outputs * inputs * kernel];
            for (var o = 0; o < conv.OutputChannels; o++)
                Array.Copy(old, o * conv.InputChannels * kernel, padded, o * inputs * kernel, conv.InputChannels * kernel);
            weight.RawData = ByteString.CopyFrom(padded);
            weight.Int32Data.Clear();
            weight.Dims[0] = outputs;
            weight.Dims[1] = inputs;
            // A padded channel's scales repeat the last real one's: any positive scale is exact for zero weights,
            // and this one keeps the bias scale the product ORT expects.
            foreach (var name in new[] { conv.WeightDequantize.Input[1], conv.WeightDequantize.Input[2], conv.BiasDequantize.Input[0], conv.BiasDequantize.Input[1], conv.BiasDequantize.Input[2] })
                Extend(initializers[name], outputs, repeatLast: name == conv.WeightDequantize.Input[1] || name == conv.BiasDequantize.Input[1]);
        }

        private static void Extend(TensorProto tensor, int count, bool repeatLast)
        {
            var bytes = Bytes(tensor);
            var width = bytes.Length / (int)tensor.Dims[0];
            var extended = new byte[count * width];
            bytes.CopyTo(extended, 0);
            for (var c = (int)tensor.Dims[0]; c < count && repeatLast; c++)
                Array.Copy(bytes, bytes.Length - width, extended, c * width, width);
            tensor.RawData = ByteString.CopyFrom(extended);
            tensor.Int32Data.Clear();
            tensor.FloatData.Clear();
            tensor.Dims[0] = count;
        }

        // The writer stores raw data; typed fields are read for models written by other tools.
        private static byte[] Bytes(TensorProto tensor) => tensor.RawData.Length > 0 || Count(tensor) == 0
            ? tensor.RawData.ToByteArray()
            : (TensorProto.Types.DataType)tensor.DataType switch
            {
                TensorProto.Types.DataType.Float => MemoryMarshal.AsBytes(tensor.FloatData.ToArray().AsSpan()).ToArray(),
                TensorProto.Types.DataType.Int32 => MemoryMarshal.AsBytes(tensor.Int32Data.ToArray().AsSpan()).ToArray(),
                TensorProto.Types.DataType.Int8 or TensorProto.Types.DataType.Uint8 => [.. tensor.Int32Data.Select(v => (byte)v)],
                var type => throw new NotSupportedException($"initializer {tensor.Name}: {type} data outside raw_data"),
            };

        private static long Count(TensorProto tensor) => tensor.Dims.Aggregate(1L, (a, d) => a * d);

        private static long? Attribute(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name)?.I;

        private string Name(string kind) => $"channel_padding.{kind}{added++}";

        private void Initializer(TensorProto tensor)
        {
            graph.Initializer.Add(tensor);
            initializers[tensor.Name] = tensor;
        }
    }
}
