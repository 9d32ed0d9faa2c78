using TorchSharp;

namespace SrMobile.Training;

/// <summary>
/// Constant <see cref="Scalar"/>s held for the life of the process. A number passed to a TorchSharp operation is
/// turned into a native scalar that nothing disposes; its finalizer may run on another thread while libtorch is still
/// reading it, which failed a long QAT run with "Unknown scalar type". Constants live here; per-call values are
/// created with <c>ToScalar()</c> in a <c>using</c>, which keeps them alive until the operation is done.
/// </summary>
public static class Scalars
{
    public static readonly Scalar Zero = 0.ToScalar();
    public static readonly Scalar PixelMax = 255.ToScalar();
    public static readonly Scalar Int8Max = 127.ToScalar();
    public static readonly Scalar MinusInt8Max = (-127).ToScalar();
}
