// The rule editor: builds its controls from the schema (the server's operator table), keeps the
// hidden `rule` field as JSON and fires `rule-changed` on its form (the live count listens).
// A condition just added is "fresh": its errors (an empty value) stay hidden until the person has
// typed in it or left it, so adding a condition never greets them in red.
(function () {
  "use strict";
  if (window.segmentsEditorLoaded) return;
  window.segmentsEditorLoaded = true;

  const MAX_DEPTH = 3;
  let uid = 0;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([k, v]) {
      if (v === undefined || v === null || v === false) return;
      if (k === "text") node.textContent = v; else node.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function labelled(text, control, cls) {
    const id = "re-" + (++uid);
    control.id = id;
    return el("div", { class: cls || "col-auto" }, [el("label", { class: "form-label small mb-0", for: id, text: text }), control]);
  }
  function select(options, value, cls) {
    const s = el("select", { class: "form-select form-select-sm " + (cls || "") });
    options.forEach(function ([v, label]) {
      const o = el("option", { value: v, text: label });
      if (String(v) === String(value)) o.selected = true;
      s.appendChild(o);
    });
    return s;
  }
  function button(text, cls, onClick) {
    const b = el("button", { type: "button", class: "btn btn-sm " + cls, text: text });
    b.addEventListener("click", onClick);
    return b;
  }

  function Editor(root) {
    this.root = root;
    this.schema = JSON.parse(document.getElementById(root.dataset.schema).textContent);
    this.input = document.getElementById(root.dataset.input);
    this.form = this.input.form;
    this.fresh = new WeakSet();
    root.editor = this;
    this.attributes = {};
    this.schema.attributes.forEach((a) => { this.attributes[a.key] = a; });
    this.events = {};
    this.schema.events.forEach((e) => { this.events[e.name] = e; });
    let rule = {};
    try { rule = JSON.parse(this.input.value || "{}"); } catch (e) { rule = {}; }
    this.rule = {
      version: 1,
      attributes: rule.attributes || { match: "all", conditions: [] },
      events: rule.events || [],
    };
    root.addEventListener("input", () => this.changed());
    root.addEventListener("change", () => this.changed());
    // Leaving a value empty counts as having filled it in: its error shows from then on.
    root.addEventListener("focusout", (event) => {
      const owner = event.target.closest && event.target.closest("[data-value-of]");
      if (owner && owner.valueOwner && this.fresh.has(owner.valueOwner)) {
        this.fresh.delete(owner.valueOwner);
        placeErrors(document.getElementById("rule-count") || document);
      }
    });
    this.render();
    this.save(false);
  }

  Editor.prototype.changed = function () { this.save(true); };
  Editor.prototype.save = function (notify) {
    const rule = { version: 1 };
    if (this.rule.attributes.conditions.length) rule.attributes = this.rule.attributes;
    if (this.rule.events.length) rule.events = this.rule.events;
    this.input.value = JSON.stringify(rule);
    this.root.querySelectorAll(".rule-error").forEach((n) => n.remove());
    this.root.querySelectorAll(".is-invalid").forEach((n) => n.classList.remove("is-invalid"));
    if (notify && this.form) this.form.dispatchEvent(new CustomEvent("rule-changed", { bubbles: true }));
  };
  Editor.prototype.rerender = function () { this.render(); this.changed(); };

  Editor.prototype.render = function () {
    this.root.replaceChildren(
      el("h3", { class: "h6 mt-2", text: "Attributes" }),
      this.group(this.rule.attributes, "attributes", 1, null),
      el("h3", { class: "h6 mt-3", text: "Behaviour (events)" }),
      this.eventList()
    );
  };

  // -- attribute groups ----------------------------------------------------------------------
  Editor.prototype.group = function (group, path, depth, parent) {
    const box = el("div", { class: "card card-body p-2 mb-2 " + (depth > 1 ? "bg-body-tertiary" : ""), "data-path": path });
    const match = select([["all", "all of these (AND)"], ["any", "any of these (OR)"]], group.match);
    match.addEventListener("change", () => { group.match = match.value; });
    const head = el("div", { class: "row g-2 align-items-end mb-2" }, [labelled("People who match", match)]);
    if (parent) head.appendChild(el("div", { class: "col-auto ms-auto" }, [button("Remove group", "btn-outline-danger", () => {
      parent.conditions.splice(parent.conditions.indexOf(group), 1); this.rerender();
    })]));
    box.appendChild(head);
    group.conditions.forEach((child, i) => {
      const childPath = path + ".conditions[" + i + "]";
      box.appendChild(child.conditions ? this.group(child, childPath, depth + 1, group) : this.condition(child, childPath, group));
    });
    if (!group.conditions.length) box.appendChild(el("p", { class: "small text-body-secondary mb-2", text: depth === 1 ? "No attribute conditions: everyone matches." : "An empty group matches everyone." }));
    const full = this.conditionCount() >= this.schema.limits.conditions;
    const limit = "A segment holds at most " + this.schema.limits.conditions + " conditions.";
    const actions = el("div", { class: "d-flex flex-wrap align-items-center gap-2" }, [button("+ Condition", "btn-outline-primary", () => {
      const cond = { attribute: "city", operator: "is", value: "" };
      this.fresh.add(cond);
      group.conditions.push(cond); this.rerender();
    })]);
    if (depth < MAX_DEPTH) actions.appendChild(button("+ Group", "btn-outline-secondary", () => {
      const cond = { attribute: "city", operator: "is", value: "" };
      this.fresh.add(cond);
      group.conditions.push({ match: group.match === "all" ? "any" : "all", conditions: [cond] }); this.rerender();
    }));
    if (full) {
      actions.querySelectorAll("button").forEach((b) => { b.disabled = true; b.title = limit; });
      if (depth === 1) actions.appendChild(el("span", { class: "small text-body-secondary", "data-condition-limit": true, text: limit + " Remove one to add another." }));
    }
    box.appendChild(actions);
    return box;
  };

  Editor.prototype.operatorsFor = function (kind) { return this.schema.operators[kind] || {}; };

  Editor.prototype.conditionCount = function () {
    const count = (group) => group.conditions.reduce((n, c) => n + (c.conditions ? count(c) : 1), 0);
    return count(this.rule.attributes);
  };

  // Whether an error's path lies in a fresh condition or property (its errors wait).
  Editor.prototype.isFresh = function (path) {
    let node = this.rule;
    const steps = path.match(/[A-Za-z_]+|\d+/g) || [];
    for (const step of steps) {
      if (node === null || node === undefined || typeof node !== "object") return false;
      node = node[/^\d+$/.test(step) ? Number(step) : step];
      if (node && typeof node === "object" && this.fresh.has(node)) return true;
    }
    return false;
  };

  Editor.prototype.condition = function (cond, path, parent) {
    const row = el("div", { class: "row g-2 align-items-end mb-2", "data-path": path });
    const attribute = this.attributes[cond.attribute] || this.schema.attributes[0];
    const attrSelect = select(this.schema.attributes.map((a) => [a.key, a.label]), attribute.key);
    attrSelect.addEventListener("change", () => {
      const next = this.attributes[attrSelect.value];
      cond.attribute = next.key;
      const ops = this.operatorsFor(next.kind);
      if (!(cond.operator in ops)) cond.operator = Object.keys(ops)[0];
      cond.value = this.defaultValue(ops[cond.operator].value);
      this.rerender();
    });
    const ops = this.operatorsFor(attribute.kind);
    const opSelect = select(Object.entries(ops).map(([k, v]) => [k, v.label]), cond.operator);
    opSelect.addEventListener("change", () => {
      const before = ops[cond.operator] ? ops[cond.operator].value : null;
      cond.operator = opSelect.value;
      const shape = ops[cond.operator].value;
      if (shape !== before) cond.value = shape === "list" && cond.value ? [cond.value] : this.defaultValue(shape);
      if (shape === "none") delete cond.value;
      this.rerender();
    });
    row.appendChild(labelled("Attribute", attrSelect)).dataset.field = "attribute";
    row.appendChild(labelled("Operator", opSelect)).dataset.field = "operator";
    const shape = ops[cond.operator] ? ops[cond.operator].value : "none";
    this.valueControls(cond, "value", attribute, shape).forEach((c) => row.appendChild(c));
    row.appendChild(el("div", { class: "col-auto" }, [button("Remove", "btn-outline-danger", () => {
      parent.conditions.splice(parent.conditions.indexOf(cond), 1); this.rerender();
    })]));
    return row;
  };

  Editor.prototype.defaultValue = function (shape) {
    if (shape === "list") return [""];
    if (shape === "relative") return { amount: 7, unit: "days" };
    if (shape === "none") return undefined;
    return "";
  };

  // One input fitting the type: date, datetime-local, number, true/false, choices, tag/country pickers.
  Editor.prototype.input1 = function (attribute, value, onValue) {
    let control;
    const kind = attribute.kind;
    if (attribute.choices && attribute.choices.length) {
      control = select([["", "Choose…"]].concat(attribute.choices), value);
    } else if (kind === "boolean") {
      control = select([["", "Choose…"], ["true", "true"], ["false", "false"]], value === true ? "true" : value === false ? "false" : "");
      control.addEventListener("change", () => onValue(control.value === "" ? "" : control.value === "true"));
      return control;
    } else {
      const type = { date: "date", datetime: "datetime-local", integer: "number", decimal: "number" }[kind] || "text";
      control = el("input", { class: "form-control form-control-sm", type: type, step: kind === "decimal" ? "any" : null });
      // A date-time comes with the account's offset (the server's rule_for_editor): its first 16
      // characters are the wall time in the account's time zone.
      if (kind === "datetime" && value) value = String(value).slice(0, 16);
      control.value = value === undefined || value === null ? "" : value;
      const list = attribute.key === "tags" ? "tags" : attribute.key === "country" ? "countries" : null;
      if (list) { control.setAttribute("list", this.datalist(list)); control.placeholder = list === "tags" ? "Tag name" : "Country"; }
    }
    control.addEventListener("input", () => {
      let v = control.value;
      if ((kind === "integer" || kind === "decimal") && v !== "" && !isNaN(Number(v))) v = Number(v);
      // Typed without an offset: the server reads it in the account's time zone.
      if (kind === "datetime" && v) v = v + ":00";
      onValue(v);
    });
    control.addEventListener("change", () => control.dispatchEvent(new Event("input")));
    return control;
  };

  Editor.prototype.datalist = function (name) {
    const id = "rule-datalist-" + name;
    if (!document.getElementById(id)) {
      const list = el("datalist", { id: id });
      (this.schema[name] || []).forEach((v) => list.appendChild(el("option", { value: v })));
      document.body.appendChild(list);
    }
    return id;
  };

  Editor.prototype.valueControls = function (owner, key, attribute, shape) {
    const controls = this.valueControls1(owner, key, attribute, shape);
    controls.forEach((c) => {
      c.dataset.valueOf = "";
      c.valueOwner = owner;
      // Typing in a value: from now on its errors show.
      c.addEventListener("input", () => this.fresh.delete(owner), true);
    });
    return controls;
  };

  Editor.prototype.valueControls1 = function (owner, key, attribute, shape) {
    const value = owner[key];
    if (shape === "none") return [];
    if (shape === "relative") {
      const v = value && typeof value === "object" ? value : { amount: 7, unit: "days" };
      owner[key] = v;
      const amount = el("input", { class: "form-control form-control-sm", type: "number", min: "0", step: "1" });
      amount.value = v.amount;
      amount.addEventListener("input", () => { v.amount = amount.value === "" ? "" : Number(amount.value); });
      const unit = select(this.schema.relative_units.map((u) => [u, u]), v.unit);
      unit.addEventListener("change", () => { v.unit = unit.value; });
      return [labelled("Amount", amount, "col-2"), labelled("Unit", unit)];
    }
    if (shape === "list") {
      const values = Array.isArray(value) ? value : [value === undefined ? "" : value];
      owner[key] = values;
      const wrap = el("div", { class: "col d-flex flex-wrap align-items-end gap-1" });
      values.forEach((item, i) => {
        const control = this.input1(attribute, item, (v) => { values[i] = v; });
        const cell = labelled(i === 0 ? "Values" : "or", control, "");
        if (values.length > 1) cell.appendChild(button("×", "btn-link p-0 ms-1", () => { values.splice(i, 1); this.rerender(); }));
        wrap.appendChild(cell);
      });
      wrap.appendChild(button("+ OR value", "btn-outline-secondary", () => { values.push(""); this.rerender(); }));
      return [wrap];
    }
    return [labelled("Value", this.input1(attribute, value, (v) => { owner[key] = v; }), "col")];
  };

  // -- events ------------------------------------------------------------------------------
  Editor.prototype.eventList = function () {
    const box = el("div", { "data-path": "events" });
    this.rule.events.forEach((clause, i) => box.appendChild(this.eventClause(clause, "events[" + i + "]")));
    if (!this.schema.events.length) {
      box.appendChild(el("p", { class: "small text-body-secondary", text: "This account has no events defined yet." }));
    } else if (this.rule.events.length < this.schema.limits.event_clauses) {
      box.appendChild(button("+ Event", "btn-outline-primary", () => {
        this.rule.events.push({ event: this.schema.events[0].name, performed: true, occurrence: { operator: "gte", count: 1 }, time: { operator: "within_last", amount: 30, unit: "days" }, properties: [] });
        this.rerender();
      }));
    }
    return box;
  };

  Editor.prototype.eventClause = function (clause, path) {
    const card = el("div", { class: "card card-body p-2 mb-2", "data-path": path });
    clause.occurrence = clause.occurrence || { operator: "gte", count: 1 };
    clause.time = clause.time || { operator: "any_time" };
    clause.properties = clause.properties || [];
    const name = select(this.schema.events.map((e) => [e.name, e.name]), clause.event);
    name.addEventListener("change", () => { clause.event = name.value; clause.properties = []; this.rerender(); });
    const performed = select([["true", "performed"], ["false", "did not perform"]], clause.performed === false ? "false" : "true");
    performed.addEventListener("change", () => { clause.performed = performed.value === "true"; });
    const occOp = select([["gte", "at least"], ["gt", "more than"], ["equals", "exactly"], ["lte", "at most"], ["lt", "fewer than"]], clause.occurrence.operator);
    occOp.addEventListener("change", () => { clause.occurrence.operator = occOp.value; });
    const count = el("input", { class: "form-control form-control-sm", type: "number", min: "0", step: "1" });
    count.value = clause.occurrence.count;
    count.addEventListener("input", () => { clause.occurrence.count = count.value === "" ? "" : Number(count.value); });
    const timeOp = select([["any_time", "at any time"], ["within_last", "in the last"], ["before_last", "more than … ago"], ["between_last", "between … ago"], ["after", "after"], ["before", "before"], ["between", "between dates"]], clause.time.operator);
    timeOp.addEventListener("change", () => {
      const t = { operator: timeOp.value };
      if (["within_last", "before_last"].includes(t.operator)) Object.assign(t, { amount: 30, unit: "days" });
      if (t.operator === "between_last") Object.assign(t, { from: 7, to: 30, unit: "days" });
      clause.time = t; this.rerender();
    });
    const top = el("div", { class: "row g-2 align-items-end" }, [
      labelled("Who", performed), labelled("Event", name), labelled("How often", occOp), labelled("Times", count, "col-1"), labelled("When", timeOp),
    ]);
    this.timeControls(clause.time).forEach((c) => top.appendChild(c));
    top.appendChild(el("div", { class: "col-auto ms-auto" }, [button("Remove", "btn-outline-danger", () => {
      this.rule.events.splice(this.rule.events.indexOf(clause), 1); this.rerender();
    })]));
    card.appendChild(top);
    const definition = this.events[clause.event] || { properties: {} };
    const props = Object.entries(definition.properties || {});
    clause.properties.forEach((prop, i) => {
      const type = (definition.properties || {})[prop.property] || "text";
      const attribute = { key: prop.property, label: prop.property, kind: type, choices: [] };
      const row = el("div", { class: "row g-2 align-items-end mt-1 ms-3", "data-path": path + ".properties[" + i + "]" });
      const propSelect = select(props.map(([k]) => [k, k]), prop.property);
      propSelect.addEventListener("change", () => { prop.property = propSelect.value; prop.operator = "is"; prop.value = ""; this.rerender(); });
      const ops = this.operatorsFor(type);
      const opSelect = select(Object.entries(ops).map(([k, v]) => [k, v.label]), prop.operator);
      opSelect.addEventListener("change", () => { prop.operator = opSelect.value; prop.value = this.defaultValue(ops[prop.operator].value); this.rerender(); });
      row.appendChild(labelled("Property", propSelect));
      row.appendChild(labelled("Operator", opSelect));
      this.valueControls(prop, "value", attribute, ops[prop.operator] ? ops[prop.operator].value : "none").forEach((c) => row.appendChild(c));
      row.appendChild(el("div", { class: "col-auto" }, [button("Remove", "btn-outline-danger", () => { clause.properties.splice(i, 1); this.rerender(); })]));
      card.appendChild(row);
    });
    if (props.length) card.appendChild(el("div", { class: "mt-2 ms-3" }, [button("+ Property condition", "btn-outline-secondary", () => {
      const prop = { property: props[0][0], operator: "is", value: "" };
      this.fresh.add(prop);
      clause.properties.push(prop); this.rerender();
    })]));
    return card;
  };

  Editor.prototype.timeControls = function (t) {
    const units = this.schema.event_time_units.map((u) => [u, u]);
    const number = (key, label) => {
      const input = el("input", { class: "form-control form-control-sm", type: "number", min: "0", step: "1" });
      input.value = t[key];
      input.addEventListener("input", () => { t[key] = input.value === "" ? "" : Number(input.value); });
      return labelled(label, input, "col-1");
    };
    const moment = (key, label) => {
      const input = el("input", { class: "form-control form-control-sm", type: "datetime-local" });
      input.value = t[key] ? String(t[key]).slice(0, 16) : "";
      input.addEventListener("input", () => { t[key] = input.value ? input.value + ":00" : ""; });
      return labelled(label + " (" + (this.schema.time_zone || "UTC") + ")", input);
    };
    const unit = () => { const s = select(units, t.unit); s.addEventListener("change", () => { t.unit = s.value; }); return labelled("Unit", s); };
    if (t.operator === "within_last" || t.operator === "before_last") return [number("amount", "Amount"), unit()];
    if (t.operator === "between_last") return [number("from", "From"), number("to", "To"), unit()];
    if (t.operator === "after" || t.operator === "before") return [moment("value", "Moment")];
    if (t.operator === "between") return [moment("start", "Start"), moment("end", "End")];
    return [];
  };

  // Errors from the server ({path, message}) shown next to the field they name. The errors of a
  // fresh condition are hidden (here and in the count's list) until the person has filled it in.
  function placeErrors(scope) {
    const lists = Array.from(scope.querySelectorAll("[data-rule-errors]"));
    if (scope.matches && scope.matches("[data-rule-errors]")) lists.unshift(scope);
    if (!lists.length) return;
    document.querySelectorAll("[data-rule-editor]").forEach(function (root) {
      const editor = root.editor;
      root.querySelectorAll(".rule-error").forEach((n) => n.remove());
      root.querySelectorAll(".is-invalid").forEach((n) => n.classList.remove("is-invalid"));
      lists.forEach(function (list) {
        let shown = 0;
        list.querySelectorAll("[data-rule-error]").forEach(function (item) {
          const waits = editor && editor.isFresh(item.dataset.path);
          item.hidden = !!waits;
          if (waits) return;
          shown += 1;
          let path = item.dataset.path;
          let target = null;
          while (path && !target) {
            target = root.querySelector('[data-path="' + path.replace(/"/g, "") + '"]');
            if (!target) path = path.replace(/(\.[^.[]+|\[\d+\])$/, "");
          }
          if (!target || target.querySelector(":scope > .rule-error[data-for='" + item.dataset.path.replace(/'/g, "") + "']")) return;
          // Mark the control the error is about (the value, the operator…), else the whole row.
          const field = /\.value(\.|\[|$)/.test(item.dataset.path.slice(path.length)) ? "[data-value-of]"
            : (item.dataset.path.match(/\.(attribute|operator)$/) ? '[data-field="' + item.dataset.path.match(/\.(attribute|operator)$/)[1] + '"]' : null);
          const marked = field ? target.querySelectorAll(":scope > " + field + " .form-select, :scope > " + field + " .form-control") : [];
          (marked.length ? marked : target.querySelectorAll(":scope > div > .form-select, :scope > div > .form-control")).forEach(function (c) { c.classList.add("is-invalid"); });
          const note = el("div", { class: "rule-error invalid-feedback d-block col-12", text: item.dataset.message });
          note.dataset.for = item.dataset.path;
          target.appendChild(note);
        });
        // The count's list: when only fresh conditions are unfinished, say so without alarm.
        const box = list.parentElement;
        const head = box.querySelector("[data-rule-errors-head]");
        const incomplete = box.querySelector("[data-rule-incomplete]");
        list.hidden = shown === 0;
        if (head) head.hidden = shown === 0;
        if (incomplete) incomplete.hidden = shown !== 0;
      });
    });
  }

  function init(scope) {
    scope.querySelectorAll("[data-rule-editor]:not([data-ready])").forEach(function (root) {
      root.dataset.ready = "1";
      new Editor(root);
    });
    placeErrors(scope);
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });
  if (document.readyState !== "loading") init(document);
})();
