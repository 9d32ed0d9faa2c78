using System.Text.Json;
using System.Text.Json.Serialization;

namespace SrMobile.Query;

/// <summary>The JSON of the HTTP API and of the CLI's <c>--json</c>: snake_case names, enums as snake_case strings, NaN as "NaN".</summary>
public static class SearchJson
{
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DictionaryKeyPolicy = null;
        // A number that was never measured (a canary's PSNR, a one-run CoV) is NaN: written as "NaN", never a 500.
        options.NumberHandling |= JsonNumberHandling.AllowNamedFloatingPointLiterals;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        return options;
    }
}

/// <summary>The body of a refused request: what is wrong, each problem with its field when it has one.</summary>
public sealed record ApiProblem(string Title, IReadOnlyList<Contracts.SpecError> Errors);
