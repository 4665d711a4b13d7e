package dev.dedupe.loadbench;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Records to JSON and back, for the benchmark's result file. Handles what the result records
 * hold: records, lists, string-keyed maps, strings, numbers, booleans, and null. (Gson's own
 * binding reads records only from 2.10 on; the classpath has an older Gson.)
 */
final class Json {

  private static final Gson PRETTY = new GsonBuilder().setPrettyPrinting().serializeNulls().create();

  private Json() {}

  static String write(Object value) {
    return PRETTY.toJson(tree(value)) + "\n";
  }

  static <T> T read(String json, Class<T> type) {
    return type.cast(value(JsonParser.parseString(json), type));
  }

  private static JsonElement tree(Object value) {
    if (value == null) {
      return JsonNull.INSTANCE;
    }
    if (value instanceof String s) {
      return new JsonPrimitive(s);
    }
    if (value instanceof Number n) {
      return new JsonPrimitive(n);
    }
    if (value instanceof Boolean b) {
      return new JsonPrimitive(b);
    }
    if (value instanceof List<?> list) {
      JsonArray array = new JsonArray();
      list.forEach(v -> array.add(tree(v)));
      return array;
    }
    if (value instanceof Map<?, ?> map) {
      JsonObject object = new JsonObject();
      map.forEach((k, v) -> object.add(String.valueOf(k), tree(v)));
      return object;
    }
    if (value.getClass().isRecord()) {
      JsonObject object = new JsonObject();
      for (RecordComponent c : value.getClass().getRecordComponents()) {
        try {
          object.add(c.getName(), tree(c.getAccessor().invoke(value)));
        } catch (IllegalAccessException | InvocationTargetException e) {
          throw new IllegalStateException("cannot read " + c.getName() + " of " + value.getClass(), e);
        }
      }
      return object;
    }
    throw new IllegalArgumentException("no JSON form for " + value.getClass());
  }

  private static Object value(JsonElement json, Type type) {
    if (json == null || json.isJsonNull()) {
      return null;
    }
    if (type instanceof ParameterizedType p) {
      Class<?> raw = (Class<?>) p.getRawType();
      if (List.class.isAssignableFrom(raw)) {
        List<Object> list = new ArrayList<>();
        json.getAsJsonArray().forEach(e -> list.add(value(e, p.getActualTypeArguments()[0])));
        return List.copyOf(list);
      }
      if (Map.class.isAssignableFrom(raw)) {
        Map<String, Object> map = new LinkedHashMap<>();
        json.getAsJsonObject().entrySet().forEach(
            e -> map.put(e.getKey(), value(e.getValue(), p.getActualTypeArguments()[1])));
        return map;
      }
      throw new IllegalArgumentException("no JSON reading for " + type);
    }
    Class<?> c = (Class<?>) type;
    if (c == String.class) {
      return json.getAsString();
    }
    if (c == long.class || c == Long.class) {
      return json.getAsLong();
    }
    if (c == int.class || c == Integer.class) {
      return json.getAsInt();
    }
    if (c == double.class || c == Double.class) {
      return json.getAsDouble();
    }
    if (c == boolean.class || c == Boolean.class) {
      return json.getAsBoolean();
    }
    if (c.isRecord()) {
      JsonObject object = json.getAsJsonObject();
      RecordComponent[] components = c.getRecordComponents();
      Class<?>[] types = new Class<?>[components.length];
      Object[] args = new Object[components.length];
      for (int i = 0; i < components.length; i++) {
        types[i] = components[i].getType();
        JsonElement field = object.get(components[i].getName());
        if ((field == null || field.isJsonNull()) && types[i].isPrimitive()) {
          throw new IllegalArgumentException(
              "result file: " + c.getSimpleName() + " lacks " + components[i].getName());
        }
        args[i] = value(field, components[i].getGenericType());
      }
      try {
        Constructor<?> constructor = c.getDeclaredConstructor(types);
        return constructor.newInstance(args);
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException("cannot build " + c.getSimpleName() + " from JSON", e);
      }
    }
    throw new IllegalArgumentException("no JSON reading for " + type);
  }
}
