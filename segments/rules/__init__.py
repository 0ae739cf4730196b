"""The rule language: the operator table (`operators`), the account's vocabulary (`catalog`),
validation (`validate`), compilation to a queryset (`compile`) and explanation (`explain`).
Other apps call it through `segments.services` / `segments.selectors`."""
