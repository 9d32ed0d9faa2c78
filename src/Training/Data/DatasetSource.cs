using System.Text.Json.Serialization;

namespace SrMobile.Training.Data;

/// <summary>Where a dataset's images come from. Loaded by <see cref="DatasetLoader"/>.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "mode")]
[JsonDerivedType(typeof(Div2kSource), "div2k")]
[JsonDerivedType(typeof(PairedFolderSource), "paired")]
[JsonDerivedType(typeof(HighOnlyFolderSource), "hr")]
public abstract record DatasetSource
{
    /// <summary>A short description for logs and errors.</summary>
    public abstract string Describe();
}

/// <summary>
/// The DIV2K layout of the seed README: <c>{Root}/DIV2K_train_HR/NNNN.png</c> and
/// <c>{Root}/DIV2K_train_LR_bicubic/X{s}/NNNNx{s}.png</c>, images First..Last (0001–0800 train, 0801–0900 validation).
/// </summary>
public sealed record Div2kSource(string Root, int First, int Last, string HighFolder = Div2kSource.DefaultHighFolder, string LowFolder = Div2kSource.DefaultLowFolder) : DatasetSource
{
    public const string DefaultHighFolder = "DIV2K_train_HR";
    public const string DefaultLowFolder = "DIV2K_train_LR_bicubic";

    public static Div2kSource Training(string root) => new(root, 1, 800);

    public static Div2kSource Validation(string root) => new(root, 801, 900);

    public override string Describe() => $"DIV2K {First:D4}-{Last:D4} in {Root}";
}

/// <summary>LR and HR folders with matching names (the LR name may carry an <c>x{s}</c> suffix).</summary>
public sealed record PairedFolderSource(string LowFolder, string HighFolder) : DatasetSource
{
    public override string Describe() => $"pairs {LowFolder} / {HighFolder}";
}

/// <summary>HR images only; LR is made with the MATLAB-compatible bicubic and cached on disk.</summary>
public sealed record HighOnlyFolderSource(string HighFolder) : DatasetSource
{
    public override string Describe() => $"HR folder {HighFolder}";
}
