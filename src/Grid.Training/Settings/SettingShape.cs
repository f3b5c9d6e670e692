using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Grid.Training.Settings;

/// <summary>
/// The types of the run settings by their config names, read from the records themselves: what a configuration
/// string must become (a number for <c>steps</c>, a string for <c>data.train</c>, whose default is null), which keys are
/// groups, lists and maps.
/// </summary>
internal static class SettingShape
{
    private static readonly ConcurrentDictionary<Type, IReadOnlyDictionary<string, Type>> s_properties = new();

    /// <summary>The settings of a group record, snake_case name to type, in declaration order.</summary>
    public static IReadOnlyDictionary<string, Type> Properties(Type group) => s_properties.GetOrAdd(group, type =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is not null && p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            .ToDictionary(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name), p => p.PropertyType));

    /// <summary>A record of settings (kl, model, ...), not a value, list or map.</summary>
    public static bool IsGroup(Type type) =>
        type.IsClass && type != typeof(string) && type.Namespace == typeof(RunSettings).Namespace;

    /// <summary>The element type of a list setting (sft.tasks), else null.</summary>
    public static Type? ListElementType(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>) ? type.GetGenericArguments()[0] : null;

    /// <summary>The value type of a map setting (sft.task_weights), else null.</summary>
    public static Type? MapValueType(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>) ? type.GetGenericArguments()[1] : null;
}
