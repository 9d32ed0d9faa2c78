using System.Globalization;
using System.Text.RegularExpressions;
using SrMobile.Engine.Models;

namespace SrMobile.Dashboard.Charts;

/// <summary>
/// What a candidate's key says about it (<c>{search}/x{scale}-m{depth}-c{width}/{recipe}/{hash}</c>), so a chart of
/// 10,000 points needs no call per point: scale, depth, width, quantization recipe and the parameter count.
/// </summary>
public sealed partial record CandidateFacts(int Scale, int Depth, int Width, string Recipe)
{
    public long Parameters => new AbpnArchitecture(Scale, Depth, Width).ParameterCount;

    /// <summary>The recipe's kind: <c>ptq-minmax</c>, <c>ptq-percentile</c>, <c>qat</c> (the recipe key without its numbers).</summary>
    public string RecipeKind => RecipeNumbers().Replace(Recipe, "");

    public string Architecture => $"x{Scale} m{Depth} C{Width}";

    public static CandidateFacts? FromKey(string key)
    {
        var match = KeyPattern().Match(key);
        return match.Success
            ? new CandidateFacts(Int(match.Groups["s"]), Int(match.Groups["m"]), Int(match.Groups["c"]), match.Groups["recipe"].Value)
            : null;
    }

    private static int Int(Group group) => int.Parse(group.Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"(?:^|/)x(?<s>\d+)-m(?<m>\d+)-c(?<c>\d+)/(?<recipe>[^/]+)/")]
    private static partial Regex KeyPattern();

    [GeneratedRegex(@"-[0-9.e-]+$")]
    private static partial Regex RecipeNumbers();
}
