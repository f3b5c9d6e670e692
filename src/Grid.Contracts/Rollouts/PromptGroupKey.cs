using System.Globalization;

namespace Grid.Contracts.Rollouts;

/// <summary>The key of a prompt group grain: <c>runId/step/promptIndex</c>.</summary>
public static class PromptGroupKey
{
    public static string Create(string runId, long step, int promptIndex) =>
        string.Create(CultureInfo.InvariantCulture, $"{runId}/{step}/{promptIndex}");
}
