using System.Globalization;
using System.Text;

namespace SrMobile.Query;

/// <summary>The fronts as CSV, one row per point on a front (what <c>search pareto --csv</c> and the API's CSV write).</summary>
public static class FrontCsv
{
    public const string Header = "scale,device,candidate,psnr,median_ms,mai_score";

    public static string Write(IEnumerable<FrontView> fronts)
    {
        var text = new StringBuilder(Header).Append('\n');
        foreach (var front in fronts)
        {
            foreach (var p in front.Front)
                text.Append(CultureInfo.InvariantCulture, $"{front.Scale},{Field(front.Device)},{Field(p.CandidateKey)},{p.Psnr:R},{p.MedianMs:R},{p.MaiScore:R}").Append('\n');
        }
        return text.ToString();
    }

    /// <summary>RFC 4180: a device key is free text in a spec, so one with a comma, quote or line break is quoted.</summary>
    private static string Field(string value) =>
        value.AsSpan().IndexOfAny(",\"\r\n") < 0 ? value : $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";
}
