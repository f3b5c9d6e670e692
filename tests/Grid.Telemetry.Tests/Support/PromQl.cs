using System.Text.RegularExpressions;

namespace Grid.Telemetry.Tests.Support;

/// <summary>The metric names a PromQL expression reads, for the Grid and Orleans families.</summary>
public static partial class PromQl
{
    public static ISet<string> MetricNames(string expression)
    {
        string withoutStrings = QuotedString().Replace(expression, "\"\"");
        return Identifier().Matches(withoutStrings)
            .Select(m => m.Value)
            .Where(name => name.StartsWith("grid_", StringComparison.Ordinal) ||
                name.StartsWith("orleans_", StringComparison.Ordinal))
            .ToHashSet();
    }

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex QuotedString();

    [GeneratedRegex("[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex Identifier();
}
