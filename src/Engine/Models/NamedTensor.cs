namespace SrMobile.Engine.Models;

/// <summary>A float tensor by name (e.g. <c>conv.0.weight</c>, OIHW), the form weights travel in without libtorch.</summary>
public sealed record NamedTensor(string Name, long[] Shape, float[] Values)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}
