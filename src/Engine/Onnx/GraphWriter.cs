using Google.Protobuf;
using Onnx;

namespace SrMobile.Engine.Onnx;

/// <summary>A small builder over the ONNX protobuf classes: initializers, nodes, and the graph's inputs and outputs.</summary>
internal sealed class GraphWriter(string name)
{
    private readonly GraphProto graph = new() { Name = name };

    public void Input(string tensor, TensorProto.Types.DataType type) => graph.Input.Add(ValueInfo(tensor, type));

    public void Output(string tensor, TensorProto.Types.DataType type) => graph.Output.Add(ValueInfo(tensor, type));

    public ModelProto Model(string description)
    {
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "SrMobile",
            DocString = description,
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = AbpnOnnxWriter.Opset });
        return model;
    }

    public string Node(string op, string[] inputs, string output, params AttributeProto[] attributes)
    {
        graph.Node.Add(NodeProto(op, $"{op}_{output}", inputs, output, attributes));
        return output;
    }

    public string Conv(string name, string input, string weight, string bias) =>
        Node("Conv", [input, weight, bias], $"{name}.out",
            Attribute("kernel_shape", [3, 3]), Attribute("pads", [1, 1, 1, 1]), Attribute("strides", [1, 1]));

    /// <summary>The input's channels repeated s² times each (R×s², G×s², B×s²): CRD order, as DepthToSpace CRD needs.</summary>
    public string Anchor(string input, int scale)
    {
        var repeats = scale * scale;
        graph.Initializer.Add(Int64Tensor("anchor.indices", [.. Enumerable.Range(0, 3 * repeats).Select(k => (long)(k / repeats))]));
        return Node("Gather", [input, "anchor.indices"], $"{input}.anchor", Attribute("axis", 1));
    }

    public string DepthToSpace(string input, int scale) =>
        Node("DepthToSpace", [input], $"{input}.d2s", Attribute("blocksize", scale), Attribute("mode", "CRD"));

    public string Quantize(string input, AffineQuantization q, string name)
    {
        AddQuantizationParameters(name, q);
        return Node("QuantizeLinear", [input, $"{name}.scale", $"{name}.zero"], $"{name}.q");
    }

    public string Dequantize(string input, AffineQuantization q, string name)
    {
        if (!graph.Initializer.Any(i => i.Name == $"{name}.scale"))
            AddQuantizationParameters(name, q);
        return Node("DequantizeLinear", [input, $"{name}.scale", $"{name}.zero"], $"{name}.dq");
    }

    public void FloatInitializer(string tensorName, long[] dims, float[] values) =>
        Raw(tensorName, dims, TensorProto.Types.DataType.Float, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    public void Int8Initializer(string tensorName, long[] dims, sbyte[] values) =>
        Raw(tensorName, dims, TensorProto.Types.DataType.Int8, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    public void Int32Initializer(string tensorName, long[] dims, int[] values) =>
        Raw(tensorName, dims, TensorProto.Types.DataType.Int32, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    // Node and tensor parts, static: the graph rewrites (ChannelPadding, DepthToSpaceSplit) build theirs with them too.
    public static AttributeProto Attribute(string attribute, long value) =>
        new() { Name = attribute, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Attribute(string attribute, string value) =>
        new() { Name = attribute, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Attribute(string attribute, long[] values)
    {
        var proto = new AttributeProto { Name = attribute, Type = AttributeProto.Types.AttributeType.Ints };
        proto.Ints.AddRange(values);
        return proto;
    }

    /// <summary>A one-dimensional int64 tensor (indices, shapes, slice bounds, pads).</summary>
    public static TensorProto Int64Tensor(string tensorName, long[] values)
    {
        var tensor = new TensorProto { Name = tensorName, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.AddRange(values);
        return tensor;
    }

    /// <summary>A node named after its one output, as the graphs here name them.</summary>
    public static NodeProto NodeProto(string op, string name, string[] inputs, string output, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        return node;
    }

    // Scalar scale and zero point: per-tensor quantization.
    private void AddQuantizationParameters(string name, AffineQuantization q)
    {
        FloatInitializer($"{name}.scale", [], [q.Scale]);
        if (q.Type == ActivationType.UInt8)
            Raw($"{name}.zero", [], TensorProto.Types.DataType.Uint8, [(byte)q.ZeroPoint]);
        else
            Int8Initializer($"{name}.zero", [], [(sbyte)q.ZeroPoint]);
    }

    private void Raw(string tensorName, long[] dims, TensorProto.Types.DataType type, byte[] bytes)
    {
        var tensor = new TensorProto { Name = tensorName, DataType = (int)type, RawData = ByteString.CopyFrom(bytes) };
        tensor.Dims.AddRange(dims);
        graph.Initializer.Add(tensor);
    }

    private static ValueInfoProto ValueInfo(string tensor, TensorProto.Types.DataType type)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = 3 });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = tensor == AbpnOnnxWriter.InputName ? "H" : "sH" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = tensor == AbpnOnnxWriter.InputName ? "W" : "sW" });
        return new ValueInfoProto
        {
            Name = tensor,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
