using Onnx;

namespace SrMobile.Engine.Onnx;

/// <summary>
/// Replaces each DepthToSpace (CRD) by two transposes that each move one axis, which ONNX Runtime runs as plain 2-D
/// transposes or block copies, instead of its 6-D element-by-element shuffle (4.7 ms of a 41 ms ×3 int8 run at
/// 360×640, the split 1.3 ms; docs/BENCHMARKS.md). With C colours, block s and X = [N, C·s·s, H, W]:
/// <code>
/// [N, C, s(dy), s(dx), H, W] → [N, C, dy, H, W, dx]   (dx moves last: a 2-D transpose of s × H·W bytes)
/// [N, C, dy, H, W·s]         → [N, C, H, dy, W·s]     (dy moves past H: copies of whole W·s rows)
/// → [N, C, H·s, W·s]
/// </code>
/// The reshape between the transposes keeps ORT from merging them back into one 6-D transpose. H and W stay dynamic:
/// the shapes are computed from the input's.
/// </summary>
public static class DepthToSpaceSplit
{
    /// <summary>Rewrites every CRD DepthToSpace of the graph; returns how many.</summary>
    public static int Apply(ModelProto model)
    {
        var graph = model.Graph;
        var nodes = graph.Node.Where(n => n.OpType == "DepthToSpace" && Mode(n) == "CRD").ToList();
        foreach (var (i, node) in nodes.Index())
        {
            var s = node.Attribute.Single(a => a.Name == "blocksize").I;
            var name = $"depth_to_space_split{i}";
            string Out(string output) => $"{name}.{output}";
            string Constant(string suffix, params long[] values)
            {
                graph.Initializer.Add(GraphWriter.Int64Tensor(Out(suffix), values));
                return Out(suffix);
            }
            NodeProto Node(string op, string output, string[] inputs, params AttributeProto[] attributes) =>
                GraphWriter.NodeProto(op, Out(output), inputs, output == node.Output[0] ? output : Out(output), attributes);
            AttributeProto Axis0() => GraphWriter.Attribute("axis", 0);
            AttributeProto Perm(params long[] perm) => GraphWriter.Attribute("perm", perm);

            var input = node.Input[0];
            var replacement = new[]
            {
                Node("Shape", "shape", [input]),
                Node("Slice", "n", [Out("shape"), Constant("at0", 0), Constant("at1", 1)]),
                Node("Slice", "h", [Out("shape"), Constant("at2", 2), Constant("at3", 3)]),
                Node("Slice", "w", [Out("shape"), Out("at3"), Constant("at4", 4)]),
                Node("Mul", "hs", [Out("h"), Constant("s", s)]),
                Node("Mul", "ws", [Out("w"), Out("s")]),
                // [N, C, dy, dx, H, W]; the channel count C = channels / s² is left for Reshape to infer (-1 on it).
                Node("Concat", "blocks_shape", [Out("n"), Constant("c_dy_dx", -1, s, s), Out("h"), Out("w")], Axis0()),
                Node("Reshape", "blocks", [input, Out("blocks_shape")]),
                Node("Transpose", "dx_last", [Out("blocks")], Perm(0, 1, 2, 4, 5, 3)),
                Node("Concat", "rows_shape", [Out("n"), Constant("c_dy", -1, s), Out("h"), Out("ws")], Axis0()),
                Node("Reshape", "rows", [Out("dx_last"), Out("rows_shape")]),
                Node("Transpose", "dy_inside", [Out("rows")], Perm(0, 1, 3, 2, 4)),
                Node("Concat", "output_shape", [Out("n"), Constant("c", -1), Out("hs"), Out("ws")], Axis0()),
                Node("Reshape", node.Output[0], [Out("dy_inside"), Out("output_shape")]),
            };
            var at = graph.Node.IndexOf(node);
            graph.Node.RemoveAt(at);
            foreach (var added in replacement.Reverse())
                graph.Node.Insert(at, added);
        }
        return nodes.Count;
    }

    private static string? Mode(NodeProto node) =>
        node.Attribute.FirstOrDefault(a => a.Name == "mode")?.S.ToStringUtf8() ?? "DCR";
}
