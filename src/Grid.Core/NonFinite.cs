using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Grid.Core;

/// <summary>
/// The one rule for a metric that is NaN or ±Infinity (the loss and gradient norm of a step whose groups all failed,
/// say): it has no value. JSON files write <c>null</c> for it (and a step's line lists it in
/// <c>non_finite_metrics</c>), tables print <see cref="Text"/>, Prometheus records no sample and counts it in
/// <c>grid_nonfinite_metrics_total</c>, and plots leave the point out. Reading a file back gives NaN for a null.
/// </summary>
public static class NonFinite
{
    /// <summary>What a table or a progress line prints instead of a non-finite number.</summary>
    public const string Text = "-";

    /// <summary>The value formatted with <paramref name="format"/> (invariant culture), or <see cref="Text"/>.</summary>
    public static string Format(double value, string format) =>
        double.IsFinite(value) ? value.ToString(format, CultureInfo.InvariantCulture) : Text;

    /// <summary>
    /// Options that write a non-finite double (also inside a <c>double?</c>, a list or a dictionary) as <c>null</c>
    /// and read <c>null</c> (or the literals NaN, Infinity, -Infinity) back as a double. Every other option is
    /// copied from <paramref name="options"/>.
    /// </summary>
    public static JsonSerializerOptions Json(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var copy = new JsonSerializerOptions(options);
        copy.Converters.Insert(0, new NullForNonFinite());
        return copy;
    }

    /// <summary>Writes non-finite doubles as null, reads null as NaN.</summary>
    private sealed class NullForNonFinite : JsonConverter<double>
    {
        public override bool HandleNull => true;

        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType switch
            {
                JsonTokenType.Null => double.NaN,
                JsonTokenType.Number => reader.GetDouble(),
                JsonTokenType.String => reader.GetString() switch
                {
                    "NaN" => double.NaN,
                    "Infinity" => double.PositiveInfinity,
                    "-Infinity" => double.NegativeInfinity,
                    var text => throw new JsonException($"Expected a number or null, got the string '{text}'."),
                },
                var token => throw new JsonException($"Expected a number or null, got {token}."),
            };

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
        {
            if (double.IsFinite(value))
            {
                writer.WriteNumberValue(value);
            }
            else
            {
                writer.WriteNullValue();
            }
        }
    }
}
