using System.Runtime.Intrinsics.X86;
using Onnx;

namespace SrMobile.Engine.Onnx;

/// <summary>
/// Exact rewrites the engine makes to a stored model before ONNX Runtime loads it, so the graph suits the kernels of
/// the CPU it runs on. The stored model stays the one every device gets (portable, with a plain DepthToSpace); each
/// engine fits its own copy. Every value the graph computes stays the same (tests/Engine.Tests/GraphFitTests).
/// </summary>
[Flags]
public enum GraphFit
{
    /// <summary>As stored.</summary>
    None = 0,

    /// <summary>Convolution channels zero-padded to the shapes of the CPU's direct int8 kernel (<see cref="ChannelPadding"/>).</summary>
    Pad = 1,

    /// <summary>DepthToSpace as two single-axis transposes (<see cref="DepthToSpaceSplit"/>).</summary>
    Shuffle = 2,
}

public static class GraphFitting
{
    /// <summary>
    /// What this CPU gets: the split DepthToSpace everywhere (ORT's is the same generic shuffle on every CPU); padding on
    /// x86 where the int8 weights run as they are stored (ORT's direct kernel for symmetric weights there wants input
    /// channels in fours and output channels in fours, at least 16, and uint8 activations: ORT turns the int8-activation
    /// graph's activations into uint8 itself on x86, and the padding's Slice stops that at the last convolution, which
    /// then runs in float, 7 % slower at m4 C28 ×3). Not on ARM, where ORT takes that
    /// kernel only from 64 input channels and pads nothing cheaper, nor on x86 CPUs whose kernels saturate: their
    /// weights are widened to uint8 (<see cref="SaturatingKernels"/>), which that kernel does not take.
    /// </summary>
    public static GraphFit Host { get; } = X86Base.IsSupported && !SaturatingKernels.Here ? GraphFit.Pad | GraphFit.Shuffle : GraphFit.Shuffle;

    /// <summary>The direct kernel's shapes (ORT's MLAS, x86): uint8 activations, input channels a multiple of 4, output channels of 4 and at least 16.</summary>
    public const ActivationType DirectKernelActivations = ActivationType.UInt8;
    public const int InputChannelMultiple = 4;
    public const int OutputChannelMultiple = 4;
    public const int MinimumOutputChannels = 16;

    /// <summary>Applies <paramref name="fit"/>; returns the rewrites that changed something (a float graph has nothing to pad).</summary>
    public static GraphFit Apply(ModelProto model, GraphFit fit)
    {
        var applied = GraphFit.None;
        // A fitted model reaches ORT as bytes, where weights kept in files beside the model could not be found.
        if (model.Graph.Initializer.Any(t => t.DataLocation == TensorProto.Types.DataLocation.External))
            return applied;
        if (fit.HasFlag(GraphFit.Pad) && ChannelPadding.Apply(model, DirectKernelActivations, InputChannelMultiple, OutputChannelMultiple, MinimumOutputChannels) > 0)
            applied |= GraphFit.Pad;
        if (fit.HasFlag(GraphFit.Shuffle) && DepthToSpaceSplit.Apply(model) > 0)
            applied |= GraphFit.Shuffle;
        return applied;
    }

    /// <summary><c>none</c>, <c>host</c>, or a comma-separated list of <c>pad</c> and <c>shuffle</c>.</summary>
    public static GraphFit Parse(string text, string option = "--fit")
    {
        var fit = GraphFit.None;
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            fit |= part.ToLowerInvariant() switch
            {
                "none" => GraphFit.None,
                "host" => Host,
                "pad" => GraphFit.Pad,
                "shuffle" => GraphFit.Shuffle,
                _ => throw new BadInputException($"{option}: '{part}' is not one of none, host, pad, shuffle"),
            };
        }
        return fit;
    }

    /// <summary>The fit as <see cref="Parse"/> reads it: <c>none</c>, <c>pad</c>, <c>shuffle</c> or <c>pad,shuffle</c>.</summary>
    public static string Format(GraphFit fit) => fit == GraphFit.None
        ? "none"
        : string.Join(',', new[] { (GraphFit.Pad, "pad"), (GraphFit.Shuffle, "shuffle") }.Where(f => fit.HasFlag(f.Item1)).Select(f => f.Item2));
}
